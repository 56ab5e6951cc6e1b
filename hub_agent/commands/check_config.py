"""`hub-agent check-config --config FILE`: exit 0 if valid, else each error as `file:line: msg`, exit 2."""

from __future__ import annotations

import argparse

from hub_agent.config import Config, load_config
from hub_agent.rules.seed import check_seed_rules
from hub_core.errors import ConfigError, ConfigProblem

HELP = "validate a configuration file; print every error as file:line: message"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config FILE`."""
    parser.add_argument("--config", required=True, metavar="FILE", help="the TOML configuration file")


def main(args: argparse.Namespace) -> int:
    """Load the config (ConfigError reaches the CLI, which prints each problem and exits 2)."""
    config = load_config(args.config)
    problems = check_seed_rules(config) + _check_zwave_keys(config) + _check_ota_root(config)
    if problems:
        raise ConfigError(problems)
    parts = ("zwave", "zigbee", "ble", "lan", "cloud", "rules", "ota")
    enabled = [name for name in parts if getattr(config, name)]
    print(f"{args.config}: ok ({', '.join(enabled) or 'no parts'} enabled)")
    return 0


def _check_zwave_keys(config: Config) -> list[ConfigProblem]:
    """Problems with an existing Z-Wave keys file, which `run` would refuse only at start; [] if none."""
    zwave = config.zwave
    if zwave is None or zwave.port == "sim" or zwave.security_keys is None:
        return []  # the simulated stick runs without S2/S0 and never reads the file
    if not zwave.security_keys.exists():
        return []  # made (0600, fresh keys) at the first start; check-config changes nothing
    from radios.zwave.security.keystore import load_or_create  # only hubs with Z-Wave pay for it

    try:
        load_or_create(zwave.security_keys)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def _check_ota_root(config: Config) -> list[ConfigProblem]:
    """Problems with `[ota] root`, which would make every update check fail; [] if none."""
    if config.ota is None:
        return []
    from hub_agent.ota.errors import UntrustedUpdate  # only hubs with [ota] pay for TUF
    from hub_agent.ota.trustroot import MAX_ROOT, check_root

    path = config.ota.root
    try:
        with path.open("rb") as file:
            data = file.read(MAX_ROOT + 1)
        check_root(data)
    except OSError as exc:
        return [ConfigProblem(str(path), 0, f"[ota] root: cannot read it: {exc.strerror or exc}")]
    except UntrustedUpdate as exc:
        return [ConfigProblem(str(path), 0, f"[ota] root: {exc}")]
    return []
