"""The command line as a user meets it: demo, info, exit codes, no tracebacks."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def hub_agent(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub_agent", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


def test_demo_shows_a_live_event_log_and_ends_cleanly() -> None:
    # How fast it shows them is a figure for the benchmarks, not a test assertion (load varies).
    demo = subprocess.Popen(
        [sys.executable, "-m", "hub_agent", "demo", "--lan", "127.0.0.1:0", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert demo.stdout is not None and demo.stderr is not None
    joined, changed = 0, 0
    for line in demo.stdout:
        joined += "  joined  " in line
        changed += "  state  " in line
        if joined >= 10 and changed >= 1:
            break
    assert joined >= 10 and changed >= 1, "the demo ended before showing devices and a state change"
    demo.send_signal(signal.SIGINT)
    rest = demo.stdout.read()
    assert demo.wait(timeout=10) == 0
    assert "demo stopped after" in rest
    assert "Traceback" not in demo.stderr.read()
    demo.stdout.close()
    demo.stderr.close()


def test_demo_duration_ends_it() -> None:
    result = hub_agent("demo", "--duration", "1.5", "--lan", "127.0.0.1:0")
    assert result.returncode == 0, result.stderr
    stopped = re.search(r"demo stopped after (\d+\.\d) s", result.stdout)
    assert stopped and float(stopped.group(1)) >= 1.5, result.stdout[-300:]


def test_info_reads_without_creating_anything(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\ndata_dir = "{tmp_path / "data"}"\n\n[zwave]\nport = "sim"\n'
        '[lan]\nlisten = "127.0.0.1:8443"\n'
    )
    result = hub_agent("info", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["hub_id"] is None  # no key yet: info does not make one
    assert info["radios"] == [{"protocol": "zwave", "port": "sim"}]
    assert info["lan"]["url"] == "https://127.0.0.1:8443/"
    assert not (tmp_path / "data").exists()
    text = hub_agent("info", "--config", str(config)).stdout
    assert "hub id:       no key yet" in text


def test_the_hub_id_derives_from_the_key_made_at_first_start(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndata_dir = "{tmp_path / "data"}"\n')
    agent = subprocess.Popen(
        [sys.executable, "-m", "hub_agent", "run", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert agent.stderr is not None
    for line in agent.stderr:
        if "ready in" in line:
            break
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=5) == 0
    agent.stderr.close()
    key = tmp_path / "data" / "hub.key"
    assert key.stat().st_mode & 0o777 == 0o600
    info = json.loads(hub_agent("info", "--config", str(config), "--json").stdout)
    assert info["hub_id"].startswith("hub-") and len(info["hub_id"]) == 16
    assert info["devices"] == 0


def test_an_unexpected_failure_is_one_line_without_debug(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hub.sqlite3").write_bytes(b"garbage" * 1000)
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{data}"\n')
    result = hub_agent("run", "--config", str(config))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"hub-agent: error: cannot open store {data}/hub.sqlite3")
    )
    debug = hub_agent("--debug", "run", "--config", str(config))
    assert "Traceback" in debug.stderr


def test_version_and_help() -> None:
    assert hub_agent("--version").stdout.startswith("hub-agent ")
    helptext = hub_agent("--help").stdout
    for command in ("run", "demo", "check-config", "info"):
        assert command in helptext


def test_a_subcommand_imports_only_its_own_module() -> None:
    # `hub-agent run` on a 1 GB hub must not carry the demo's, relay's or LAN's imports.
    probe = (
        "import sys\n"
        "from hub_agent.cli import build_parser\n"
        "build_parser(['run', '--config', 'x.toml'])\n"
        "names = ('hub_agent.commands.demo', 'hub_agent.cloud.devcloud', 'hub_agent.lan.server',\n"
        "         'aiohttp', 'zigpy')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
