"""The systemd unit: it verifies, and its hardening keeps the exposure at 2.0 or lower (CONTRACT §8)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[2] / "systemd" / "hub-agent.service"


def analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: install the Debian package 'systemd' (the test setup does)")
    return path


def test_the_unit_exposure_is_at_most_2() -> None:
    result = subprocess.run(
        [analyze(), "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for hub-agent.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


def test_the_unit_verifies(tmp_path: Path) -> None:
    # verify insists the binary exists, so check a copy that points at this checkout's entry point.
    executable = Path(sys.executable).with_name("hub-agent")
    copy = tmp_path / "hub-agent.service"
    copy.write_text(UNIT.read_text().replace("/usr/bin/hub-agent", str(executable)))
    result = subprocess.run(
        [analyze(), "verify", "--man=no", str(copy)], capture_output=True, text=True, check=False, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if "hub-agent.service" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_the_unit_is_type_notify_with_a_watchdog() -> None:
    text = UNIT.read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text
    assert "RestartPreventExitStatus=2" in text  # a bad config is not retried in a loop
