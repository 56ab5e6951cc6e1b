"""The hub's identity: its EC P-256 key in `data_dir` (mode 0600) and the hub id derived from it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub_agent import secretfile
from hub_agent.config import Config
from hub_core.errors import HubError

KEY_FILE = "hub.key"


def key_path(config: Config) -> Path:
    """Where the hub's private key lives: `[cloud] key`, else `<data_dir>/hub.key`."""
    if config.cloud is not None and config.cloud.key is not None:
        return config.cloud.key
    return config.hub.data_dir / KEY_FILE


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The private key at `path`, created (0600, atomically, never replacing one) if missing.

    An existing key readable by others is tightened to 0600 first (and a warning logged).
    """
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            created = secretfile.create_secret(path, pem)
        except OSError as exc:
            raise HubError(f"cannot write the hub key {path}: {exc.strerror or exc}") from None
        if created:
            return key
        # Another process (the agent, or a second `provision`) made one first: use theirs.
    secretfile.tighten(path)
    try:
        loaded = serialization.load_pem_private_key(secretfile.read_secret(path), password=None)
    except OSError as exc:
        raise HubError(f"cannot read the hub key {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise HubError(f"{path} is not a PEM private key: {exc}") from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise HubError(f"{path} is not an EC private key")
    return loaded


def hub_id_from_key(key: ec.EllipticCurvePrivateKey) -> str:
    """`hub-` and the first 12 hex digits of the SHA-256 of the public key (DER)."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "hub-" + hashlib.sha256(der).hexdigest()[:12]


def hub_id(config: Config) -> str:
    """The configured hub id, or the one derived from the hub key (creating the key if needed)."""
    if config.hub.id:
        return config.hub.id
    return hub_id_from_key(load_or_create_key(key_path(config)))
