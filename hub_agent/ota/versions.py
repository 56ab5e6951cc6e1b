"""Semantic versions (MAJOR.MINOR.PATCH[-PRERELEASE]), ordered as semver 2.0 orders them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(
    r"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
#: A version string longer than this is refused before the regex sees it.
MAX_LENGTH = 64


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A parsed version; compare with <, ==; `str()` gives the canonical text (build metadata dropped)."""

    major: int
    minor: int
    patch: int
    #: a release sorts after every pre-release of the same core (semver rule 11): False < True
    release: bool = True
    pre: tuple[tuple[int, int | str], ...] = ()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if not self.release:
            text += "-" + ".".join(str(part) for _, part in self.pre)
        return text


def parse_version(text: object) -> Version:
    """Parse a semver string; raise ValueError with a sentence if it is not one."""
    if not isinstance(text, str):
        raise ValueError(f"version must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"version is longer than {MAX_LENGTH} characters")
    match = _SEMVER.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH)")
    major, minor, patch, pre = match.groups()
    if pre is None:
        return Version(int(major), int(minor), int(patch))
    parts: list[tuple[int, int | str]] = []
    for part in pre.split("."):
        # Numeric identifiers sort before alphanumeric ones and numerically among themselves.
        parts.append((0, int(part)) if part.isdigit() else (1, part))
    return Version(int(major), int(minor), int(patch), False, tuple(parts))
