"""Every installed distribution's licence allows shipping it with hub-agent (GPL-3.0-or-later).

zigpy and its radio libraries are GPL-3.0, so the hub-agent is too; a dependency under a licence that
GPL-3.0 cannot be combined with (GPL-2.0-only, proprietary, non-commercial, EPL-1.0, ...) must not
slip in with an upgrade. The licence is read from each distribution's metadata: its SPDX
`License-Expression`, else its `License` field, else its trove classifiers. What none of them names
clearly is in `ALLOWLIST`, with the reason it is acceptable.
"""

from __future__ import annotations

import importlib.metadata as md
import re

import pytest

#: SPDX ids whose terms GPL-3.0 can include (FSF's list of GPLv3-compatible licences).
COMPATIBLE = {
    "0BSD", "AGPL-3.0-or-later", "AGPL-3.0-only", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "CC0-1.0",
    "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "HPND", "ISC", "LGPL-2.1-or-later",
    "LGPL-2.1-only", "LGPL-3.0-only", "LGPL-3.0-or-later", "MIT", "MIT-0", "MPL-2.0", "PSF-2.0",
    "Python-2.0", "Unlicense", "Zlib",
}  # fmt: skip

#: How free-text `License` fields and trove classifiers spell SPDX ids.
SPELLINGS = {
    "apache 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gpl-3.0": "GPL-3.0-only",  # deprecated SPDX id (zigpy, zigpy-znp)
    "mit license": "MIT",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "python software foundation license": "PSF-2.0",
    "psfl": "PSF-2.0",  # defusedxml (via pip-audit): the Python Software Foundation License
}

#: Distributions whose metadata names no licence clearly, and why each is acceptable.
ALLOWLIST: dict[str, str] = {
    "hub-agent": "this project (GPL-3.0-or-later, LICENSE in the repository)",
}


def _token(text: str) -> str:
    cleaned = text.strip()
    return SPELLINGS.get(cleaned.lower(), cleaned)


def allowed(expression: str) -> bool:
    """Whether an SPDX expression (AND, OR, WITH, parentheses) can be combined with GPL-3.0."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    position = 0

    def parse_or() -> bool:
        nonlocal position
        result = parse_and()
        while position < len(tokens) and tokens[position].upper() == "OR":
            position += 1
            right = parse_and()
            result = result or right
        return result

    def parse_and() -> bool:
        nonlocal position
        result = parse_atom()
        while position < len(tokens) and tokens[position].upper() == "AND":
            position += 1
            right = parse_atom()
            result = result and right
        return result

    def parse_atom() -> bool:
        nonlocal position
        if position >= len(tokens):
            raise ValueError(f"incomplete licence expression {expression!r}")
        token = tokens[position]
        position += 1
        if token == "(":
            result = parse_or()
            if position >= len(tokens) or tokens[position] != ")":
                raise ValueError(f"unbalanced licence expression {expression!r}")
            position += 1
            return result
        if position < len(tokens) and tokens[position].upper() == "WITH":
            position += 2  # an exception only ever grants more
        return _token(token) in COMPATIBLE

    result = parse_or()
    if position != len(tokens):
        raise ValueError(f"cannot read licence expression {expression!r}")
    return result


def licence_of(dist: md.Distribution) -> str | None:
    """The distribution's licence as an SPDX expression, or None if its metadata names none clearly."""
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 60:
        return _token(text)
    if text.upper().startswith("GNU LESSER GENERAL PUBLIC LICENSE") and "Version 3" in text[:200]:
        return "LGPL-3.0-or-later" if "any later version" in text else "LGPL-3.0-only"
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    spdx = [_token(c) for c in classifiers if _token(c) in COMPATIBLE or c.lower() in SPELLINGS]
    return " OR ".join(spdx) if spdx else None


def test_every_installed_distribution_has_a_gpl3_compatible_licence() -> None:
    problems = []
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name in ALLOWLIST:
            continue
        licence = licence_of(dist)
        if licence is None:
            problems.append(f"{name}: no licence in its metadata (check it, then add it to ALLOWLIST)")
        elif not allowed(licence):
            problems.append(f"{name}: {licence} cannot be combined with GPL-3.0")
    assert not problems, "\n".join(sorted(problems))


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("MIT", True),
        ("Apache-2.0 OR BSD-3-Clause", True),
        ("MIT AND (GPL-2.0-or-later OR AFL-2.1)", True),
        ("GPL-2.0-only", False),
        ("MIT AND GPL-2.0-only", False),
        ("LicenseRef-Proprietary", False),
        ("CC-BY-NC-4.0 OR EPL-1.0", False),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("GPL-3.0", True),
    ],
)
def test_the_licence_check_reads_spdx_expressions(expression: str, ok: bool) -> None:
    assert allowed(expression) is ok


def test_a_malformed_expression_is_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        allowed("(MIT OR Apache-2.0")
