"""`hub-agent check-config --config FILE`: exit 0 if valid, else each error as `file:line: msg`, exit 2."""

from __future__ import annotations

import argparse

from hub_agent.config import load_config
from hub_agent.rules.seed import check_seed_rules
from hub_core.errors import ConfigError

HELP = "validate a configuration file; print every error as file:line: message"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config FILE`."""
    parser.add_argument("--config", required=True, metavar="FILE", help="the TOML configuration file")


def main(args: argparse.Namespace) -> int:
    """Load the config (ConfigError reaches the CLI, which prints each problem and exits 2)."""
    config = load_config(args.config)
    problems = check_seed_rules(config)
    if problems:
        raise ConfigError(problems)
    parts = ("zwave", "zigbee", "ble", "lan", "cloud", "rules", "ota")
    enabled = [name for name in parts if getattr(config, name)]
    print(f"{args.config}: ok ({', '.join(enabled) or 'no parts'} enabled)")
    return 0
