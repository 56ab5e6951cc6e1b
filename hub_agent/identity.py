"""The hub's identity: its EC P-256 key in `data_dir` (mode 0600) and the hub id derived from it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub_agent.config import Config

KEY_FILE = "hub.key"


def key_path(config: Config) -> Path:
    """Where the hub's private key lives: `[cloud] key`, else `<data_dir>/hub.key`."""
    if config.cloud is not None and config.cloud.key is not None:
        return config.cloud.key
    return config.hub.data_dir / KEY_FILE


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The private key at `path`, created (0600, atomically) if it does not exist yet."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an EC private key")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    # O_EXCL + 0600 from the first byte: the key is never readable by anyone else, even briefly.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    return key


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
