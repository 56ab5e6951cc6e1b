"""`hub-agent provision --config FILE`: create the hub key (if missing), print a CSR for the cloud CA.

Run as root it first becomes the agent's user (hub_agent.privileges), so the key it makes is theirs;
an existing key readable by others is tightened to 0600.
"""

from __future__ import annotations

import argparse
import sys

from hub_agent import identity, privileges
from hub_agent.cloud.pki import make_csr
from hub_agent.config import load_config

HELP = "create the hub key pair (if missing) and print a CSR (PEM) for the cloud CA"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--config."""
    parser.add_argument("--config", required=True, metavar="FILE", help="the agent's TOML config")


def main(args: argparse.Namespace) -> int:
    """Print the CSR on stdout (for a pipe to the CA); say what happened on stderr."""
    config = load_config(args.config)
    privileges.become_data_owner(config.hub.data_dir)
    path = identity.key_path(config)
    existed = path.exists()
    key = identity.load_or_create_key(path)
    hub_id = config.hub.id or identity.hub_id_from_key(key)
    sys.stdout.write(make_csr(key, hub_id))
    cert = (config.cloud.cert if config.cloud else None) or config.hub.data_dir / "hub.crt"
    print(
        f"hub id {hub_id}; key {path} ({'kept the existing key' if existed else 'created, mode 0600'}).\n"
        f"Have the cloud CA sign this CSR and install the certificate as {cert}.",
        file=sys.stderr,
    )
    return 0
