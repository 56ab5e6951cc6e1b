"""First-run defects a new user met: each failure is one clear line with what to do, never a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def hub_agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub_agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def run_until(config: Path, needle: str, count: int) -> list[str]:
    """Run the agent until `needle` has appeared in `count` log lines, stop it, return every line."""
    agent = subprocess.Popen(
        [sys.executable, "-m", "hub_agent", "run", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
    )
    assert agent.stderr is not None
    lines: list[str] = []
    seen = 0
    for line in agent.stderr:
        lines.append(line)
        seen += needle in line
        if seen >= count:
            break
    agent.send_signal(signal.SIGTERM)
    lines.extend(agent.stderr.read().splitlines(keepends=True))
    agent.stderr.close()
    assert agent.wait(timeout=10) == 0
    return lines


def test_a_missing_serial_port_is_one_line_per_retry_with_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{tmp_path / "data"}"\n[zwave]\nport = "/dev/ttyNOPE0"\n')
    lines = run_until(config, "radio:zwave failed", 2)
    failures = [line for line in lines if "radio:zwave failed" in line]
    assert len(failures) == 2
    assert "/dev/ttyNOPE0" in failures[0]
    assert "check that the stick is plugged in and [zwave] in the config names it" in failures[0]
    assert not any("Traceback" in line or line.startswith("  File ") for line in lines)


def test_a_lan_port_in_use_is_one_line_per_retry_naming_it(tmp_path: Path, taken_port: int) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\nid = "h"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[lan]\nlisten = "127.0.0.1:{taken_port}"\ntls = false\nmdns = false\n'
    )
    lines = run_until(config, "lan failed", 2)
    failures = [line for line in lines if "lan failed" in line]
    assert f"127.0.0.1:{taken_port} is already in use" in failures[0]
    assert "[lan] listen" in failures[0]
    assert not any("Traceback" in line or line.startswith("  File ") for line in lines)


def test_the_demo_says_which_port_is_taken_and_suggests_lan(taken_port: int) -> None:
    result = hub_agent("demo", "--lan", f"127.0.0.1:{taken_port}", "--duration", "5")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"hub-agent demo: 127.0.0.1:{taken_port} is already in use (another demo or hub-agent?); "
        f"choose another port with --lan 127.0.0.1:{taken_port + 1}, or --lan 127.0.0.1:0 for any free one"
    ]


@pytest.mark.parametrize("duration", ["-5", "0", "nan", "1e300"])
def test_the_demo_refuses_a_duration_that_is_not_a_sensible_positive_number(duration: str) -> None:
    result = hub_agent("demo", "--duration", duration, "--lan", "127.0.0.1:0")
    assert result.returncode == 2
    assert "--duration must be more than 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_info_says_tls_is_off_rather_than_no_certificate_yet(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\nid = "h"\ndata_dir = "{tmp_path}"\n[lan]\nlisten = "127.0.0.1:8443"\ntls = false\n'
    )
    result = hub_agent("info", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "LAN TLS:      off ([lan] tls = false; loopback only)" in result.stdout
    assert "no certificate yet" not in result.stdout
