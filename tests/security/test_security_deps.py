"""Dependencies (issue 18.8): floors with the known fixes, aiohttp's compiled parser, and an audit of
every pin with pip-audit against OSV advisories served from a local copy (tools/audit.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from hub_agent.lan import httpparser

ROOT = Path(__file__).parents[2]
AUDIT = ROOT / "tools" / "audit.py"


def audit_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hub_audit", AUDIT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            out[re.sub(r"[-_.]+", "-", name).lower()] = Version(version.strip())
    return out


def test_security_relevant_floors_have_the_known_fixes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    floors = {r.name: r.specifier for r in requirements}
    assert not floors["aiohttp"].contains("3.14.2")  # the pure-Python parser smuggling fix and more
    assert floors["aiohttp"].contains("3.14.3")
    # Every pin honours every floor (a floor raised without its pin would never be installed).
    pinned = pins()
    extras = [Requirement(r) for group in project["optional-dependencies"].values() for r in group]
    for requirement in requirements + extras:
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in pinned:
            assert requirement.specifier.contains(pinned[name], prereleases=True), (requirement, pinned[name])


def test_the_compiled_http_parser_is_in_use() -> None:
    assert httpparser.kind() == httpparser.COMPILED


def test_info_says_when_the_pure_python_parser_is_in_use(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{tmp_path}"\n[lan]\nlisten = "127.0.0.1:8443"\n')
    outputs = {}
    for flag in ("", "1"):
        env = {**os.environ, "AIOHTTP_NO_EXTENSIONS": flag}
        if not flag:
            env.pop("AIOHTTP_NO_EXTENSIONS")
        result = subprocess.run(
            [sys.executable, "-m", "hub_agent", "info", "--config", str(config)],
            capture_output=True, text=True, check=False, timeout=60, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs[flag] = result.stdout
    assert "LAN parser:   compiled (llhttp)" in outputs[""]
    assert "LAN parser:   pure Python: aiohttp's C extensions are missing" in outputs["1"]


# --- the audit ------------------------------------------------------------------------------------


def advisory(ident: str, package: str, **events: str) -> dict[str, object]:
    """An OSV record of our own (not a real advisory), affecting `package` per ECOSYSTEM events."""
    return {
        "schema_version": "1.4.0",
        "id": ident,
        "summary": f"made-up advisory {ident} for the audit test",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{k: v} for k, v in events.items()]}],
            }
        ],
    }


def run_audit(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(AUDIT), *argv],
        capture_output=True, text=True, check=False, timeout=300, env={**os.environ, **env},
    )  # fmt: skip


def test_the_audit_fails_on_a_pinned_version_with_an_advisory(tmp_path: Path) -> None:
    pinned = pins()["aiohttp"]
    db = tmp_path / "osv.zip"
    with zipfile.ZipFile(db, "w") as archive:
        hit = advisory("HUBTEST-2026-0001", "AIOHTTP", introduced="0", fixed=f"{pinned.major + 1}.0")
        miss = advisory("HUBTEST-2026-0002", "aiohttp", introduced="0", fixed=str(pinned))
        archive.writestr("HUBTEST-2026-0001.json", json.dumps(hit))
        archive.writestr("HUBTEST-2026-0002.json", json.dumps(miss))
    result = run_audit("--db", str(db))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "HUBTEST-2026-0001" in result.stdout and "HUBTEST-2026-0002" not in result.stdout
    assert f"aiohttp {pinned}" in " ".join(result.stdout.split())


def test_the_audit_passes_when_no_pin_is_affected(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text(
        json.dumps(advisory("HUBTEST-2026-0003", "aiohttp", introduced="0", fixed="3.14.3"))
    )
    result = run_audit("--db", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No known vulnerabilities found" in result.stdout + result.stderr


def test_without_a_database_the_audit_says_it_did_not_run(tmp_path: Path) -> None:
    result = run_audit("--db", str(tmp_path / "missing.zip"))
    assert result.returncode == 3 and "dependency audit NOT RUN" in result.stderr
    assert run_audit("--db", str(tmp_path / "missing.zip"), HUB_AUDIT_REQUIRED="1").returncode == 1


@pytest.mark.parametrize(
    ("events", "versions", "affected"),
    [
        ({"introduced": "0", "fixed": "3.14.3"}, ["3.14.2", "1.0"], True),
        ({"introduced": "0", "fixed": "3.14.3"}, ["3.14.3", "3.14.5", "4"], False),
        ({"introduced": "3.0", "last_affected": "3.1"}, ["3.0", "3.1"], True),
        ({"introduced": "3.0", "last_affected": "3.1"}, ["2.9", "3.1.1"], False),
    ],
)
def test_osv_ranges(events: dict[str, str], versions: list[str], affected: bool) -> None:
    audit = audit_module()
    record = advisory("HUBTEST-X", "Some_Package", **events)
    for version in versions:
        assert audit.affects(record, "some-package", Version(version)) is affected, version
