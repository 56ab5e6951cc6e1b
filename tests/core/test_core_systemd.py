"""The systemd unit, udev rules and sysusers file: the unit verifies, its exposure is 1.5 or lower
(issue 18.7), and the radio sticks belong to the agent's user alone (18.4)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub_agent.config import LanSection

SYSTEMD = Path(__file__).parents[2] / "systemd"
UNIT = SYSTEMD / "hub-agent.service"
RULES = SYSTEMD / "60-hub-agent-radios.rules"


def analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: install the Debian package 'systemd' (the test setup does)")
    return path


def test_the_unit_exposure_is_at_most_1_5() -> None:
    result = subprocess.run(
        [analyze(), "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for hub-agent.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 1.5, result.stdout


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


def directives(text: str) -> list[tuple[str, str]]:
    return [
        (key.strip(), value.strip())
        for line in text.splitlines()
        if line.strip() and not line.startswith(("#", "["))
        for key, _, value in [line.partition("=")]
    ]


def test_the_unit_limits_files_mounts_binds_and_devices() -> None:
    settings = directives(UNIT.read_text())
    one = dict(settings)
    assert int(one["LimitNOFILE"]) >= 4096  # [lan] max_connections (1,024) plus the rest of the hub
    assert one["PrivateMounts"] == "yes" and one["ConfigurationDirectoryMode"] == "0750"
    assert "SupplementaryGroups" not in one  # no dialout: the sticks are the agent user's own
    binds = [v for k, v in settings if k == "SocketBindAllow"]
    assert binds == [f"tcp:{LanSection().port}", "udp:5353"] and one["SocketBindDeny"] == "any"
    devices = [v for k, v in settings if k == "DeviceAllow"]
    assert devices == ["/dev/hub-zwave rw", "/dev/hub-zigbee rw"] and one["DevicePolicy"] == "closed"


def test_the_radio_sticks_belong_to_the_agent_alone_and_modemmanager_leaves_them_alone() -> None:
    rules = [line for line in RULES.read_text().splitlines() if line and not line.startswith("#")]
    assert rules
    names = set()
    for rule in rules:
        assert 'OWNER="hub-agent"' in rule and 'MODE="0600"' in rule, rule
        assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in rule, rule
        assert "dialout" not in rule
        names.update(re.findall(r'SYMLINK\+="([^"]+)"', rule))
    # Every node the rules name is one the unit lets the agent open, and nothing else is.
    allowed = {v.split()[0] for k, v in directives(UNIT.read_text()) if k == "DeviceAllow"}
    assert {f"/dev/{n}" for n in names} == allowed
    sysusers = (SYSTEMD / "hub-agent.sysusers").read_text()
    assert "dialout" not in "".join(x for x in sysusers.splitlines() if not x.startswith("#"))
