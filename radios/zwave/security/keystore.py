"""The Z-Wave network keys file (CONTRACT 9.1): load it, or create it 0600 with fresh random keys.

The file is JSON {"S2_AccessControl", "S2_Authenticated", "S2_Unauthenticated", "S0_Legacy"}, each
32 hex characters. Keys never reach a log line or an error message: errors name the file and the
entry, never its value. A missing file is created through `hub_core.secretfile.create_secret` (0600
from the first byte, complete or absent, never two key sets); a file readable by others is refused.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hub_core.errors import ConfigError, ConfigProblem
from hub_core.secretfile import create_secret

from .classes import BY_NAME, ORDER, SecurityClass

_log = logging.getLogger(__name__)
MAX_FILE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class NetworkKeys:
    """The four network keys, 16 bytes each."""

    keys: Mapping[SecurityClass, bytes]

    def __repr__(self) -> str:
        return "NetworkKeys(<secret>)"

    def __getitem__(self, cls: SecurityClass) -> bytes:
        return self.keys[cls]

    @classmethod
    def generate(cls, token: Callable[[int], bytes] = secrets.token_bytes) -> NetworkKeys:
        """Four fresh random keys (distinct: one key per class is what the spec requires)."""
        while True:
            keys = {c: token(16) for c in ORDER}
            if len(set(keys.values())) == len(keys):
                return cls(keys)


def _problem(path: Path, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(str(path), 0, message)])


def load_or_create(path: Path) -> NetworkKeys:
    """The keys in `path`, creating it (0600, fresh keys) if missing; ConfigError if unusable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return _create(path)
    except OSError as exc:
        raise _problem(path, f"cannot open the Z-Wave keys file: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise _problem(
                path, f"the Z-Wave keys file is readable by others (mode {mode & 0o777:o}); chmod 600 it"
            )
        raw = fh.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise _problem(path, f"the Z-Wave keys file is larger than {MAX_FILE_BYTES} bytes")
    return parse(raw, path)


def parse(raw: bytes, path: Path) -> NetworkKeys:
    """Keys from the file's bytes; ConfigError naming each bad entry (never its value)."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; nesting is bounded by the size
        raise _problem(path, "the Z-Wave keys file is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _problem(path, "the Z-Wave keys file must hold a JSON object")
    problems: list[ConfigProblem] = []
    keys: dict[SecurityClass, bytes] = {}
    for name, cls in BY_NAME.items():
        value = doc.get(name)
        if not isinstance(value, str) or len(value) != 32:
            problems.append(ConfigProblem(str(path), 0, f"{name}: expected 32 hex characters"))
            continue
        try:
            keys[cls] = bytes.fromhex(value)
        except ValueError:
            problems.append(ConfigProblem(str(path), 0, f"{name}: not hexadecimal"))
    for extra in sorted(set(doc) - set(BY_NAME)):
        problems.append(ConfigProblem(str(path), 0, f"unknown key {extra!r}"))
    if problems:
        raise ConfigError(problems)
    return NetworkKeys(keys)


def _create(path: Path) -> NetworkKeys:
    keys = NetworkKeys.generate()
    body = json.dumps({c.wire_name: keys[c].hex().upper() for c in ORDER}, indent=2).encode() + b"\n"
    try:
        created = create_secret(path, body)
    except OSError as exc:
        raise _problem(path, f"cannot create the Z-Wave keys file: {exc.strerror}") from None
    if not created:  # another process made it first: use its keys
        return load_or_create(path)
    _log.warning("created %s with new Z-Wave network keys: back it up, a lost key means re-including", path)
    return keys
