"""Configuration: typed sections from TOML, and every error reported as `file:line: message`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub_agent.config import load_config
from hub_core.errors import ConfigError

GOOD = """\
[hub]
id = "hub-0001"
data_dir = "data"
timezone = "Europe/Paris"
latitude = 48.85
longitude = 2.35

[zwave]
port = "socket://127.0.0.1:4001"

[zigbee]
radio = "znp"
port = "/dev/ttyUSB0"

[ble]
adapter = "hci0"

[lan]
listen = "127.0.0.1:8443"
tls = false

[cloud]
url = "wss://cloud.example.com/hub"
ca = "ca.pem"
cert = "hub.crt"

[rules]
file = "rules.json"
"""


def write(tmp_path: Path, text: str, name: str = "hub.toml") -> Path:
    (tmp_path / "ca.pem").write_text("not checked here\n")
    (tmp_path / "rules.json").write_text("[]\n")
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_a_complete_config_becomes_typed_sections(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.hub.id == "hub-0001"
    assert config.hub.data_dir == tmp_path / "data"  # relative to the config file's folder
    assert config.hub.latitude == 48.85
    assert config.zwave is not None and config.zwave.port == "socket://127.0.0.1:4001"
    assert config.zigbee is not None and (config.zigbee.radio, config.zigbee.channel) == ("znp", 15)
    assert config.lan is not None and (config.lan.host, config.lan.port, config.lan.tls) == (
        "127.0.0.1",
        8443,
        False,
    )
    assert config.cloud is not None and config.cloud.ca == tmp_path / "ca.pem"
    assert config.cloud.backoff_cap == 60.0
    assert config.rules is not None and config.rules.file == tmp_path / "rules.json"


def test_a_missing_section_disables_that_part(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[zwave]\nport = "sim"\n'))
    assert config.zwave is not None
    assert (config.zigbee, config.ble, config.lan, config.cloud, config.rules) == (None,) * 5
    assert config.hub.data_dir == Path("/var/lib/hub-agent")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[hub]\nid = "x"\ncolour = "red"\n', "hub.toml:3: unknown key 'colour' in [hub]"),
        ('[zwav]\nport = "sim"\n', "hub.toml:1: unknown section [zwav] (did you mean 'zwave'?)"),
        (
            '[lan]\nlistne = "1.2.3.4:5"\n',
            "hub.toml:2: unknown key 'listne' in [lan] (did you mean 'listen'?)",
        ),
        ('[lan]\ntls = "yes"\n', "hub.toml:2: [lan] tls must be true or false, not a string"),
        ('[lan]\nlisten = "0.0.0.0:99999"\n', "hub.toml:2: [lan] listen bad port '99999' in '0.0.0.0:99999'"),
        ('[lan]\nlisten = "myhub:80"\n', "hub.toml:2: [lan] listen listen host must be an IP address"),
        ('[zwave]\nport = "COM3"\n', "hub.toml:2: [zwave] port 'COM3' is neither a device path"),
        ('[zwave]\nport = "socket://127.0.0.1:0"\n', "hub.toml:2: [zwave] port bad port '0'"),
        ('[zwave]\nport = "ftp://x"\n', "hub.toml:2: [zwave] port unsupported pyserial URL scheme 'ftp'"),
        ("[zwave]\n", "hub.toml:1: [zwave] needs 'port'"),
        ('[zigbee]\nradio = "znp"\n', "hub.toml:1: [zigbee] needs 'port' unless radio = \"sim\""),
        ('[zigbee]\nradio = "sim"\nchannel = 30\n', "hub.toml:3: [zigbee] channel must be between 11 and 26"),
        (
            '[cloud]\nurl = "ws://cloud/hub"\nca = "ca.pem"\n',
            "hub.toml:2: [cloud] url must be a wss:// URL (TLS is required)",
        ),
        ('[cloud]\nurl = "wss://cloud/hub"\nca = "missing.pem"\n', "hub.toml:3: [cloud] ca cannot read"),
        ('[hub]\ntimezone = "Mars/Olympus"\n', "hub.toml:2: [hub] timezone unknown time zone 'Mars/Olympus'"),
        ("[hub]\nlatitude = 91\nlongitude = 0\n", "hub.toml:2: [hub] latitude must be between -90 and 90"),
        ("[hub]\nlatitude = 1.0\n", "hub.toml:1: [hub] latitude and longitude go together"),
        ("lan = 5\n", "hub.toml:1: lan must be a section ([lan]), not an integer"),
        ("[hub\nid = 1\n", "hub.toml:1: TOML syntax error"),
    ],
)
def test_each_error_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(write(tmp_path, text))
    assert len(found) == 1, found
    assert found[0].replace(str(tmp_path) + "/", "").startswith(expected), found[0]


def test_every_error_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = '[hub]\nid = 5\nsize = 3\n\n[lan]\ntls = 1\n\n[zwave]\nport = "COM1"\n'
    found = [p.replace(str(tmp_path) + "/", "") for p in problems(write(tmp_path, text))]
    assert [p.split(":")[1] for p in found] == ["2", "3", "6", "9"]


def test_an_unreadable_file_is_one_clear_error(tmp_path: Path) -> None:
    assert problems(tmp_path / "absent.toml") == [
        f"{tmp_path}/absent.toml:0: cannot read config: No such file or directory"
    ]


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_bytes(b'[hub]\nid = "\xff"\n')
    assert problems(path) == [f"{path}:2: not valid UTF-8"]


def hub_agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub_agent", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_check_config_cli_exits_2_with_every_error_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, '[lan]\ntls = "no"\nport = 1\n')
    result = hub_agent("check-config", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:2: [lan] tls must be true or false, not a string",
        f"{path}:3: unknown key 'port' in [lan]",
    ]
    assert "Traceback" not in result.stderr


def test_check_config_cli_accepts_a_good_file(tmp_path: Path) -> None:
    result = hub_agent("check-config", "--config", str(write(tmp_path, GOOD)))
    assert (result.returncode, result.stderr) == (0, "")
    assert "ok" in result.stdout


def test_run_refuses_a_bad_config_with_the_same_messages(tmp_path: Path) -> None:
    path = write(tmp_path, '[zwave]\nport = "COM3"\n')
    checked = hub_agent("check-config", "--config", str(path))
    ran = hub_agent("run", "--config", str(path))
    assert ran.returncode == checked.returncode == 2
    assert ran.stderr == checked.stderr != ""


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    result = hub_agent("run")
    assert result.returncode == 2
    assert "--config" in result.stderr


def test_seed_rules_are_checked_with_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, '[rules]\nfile = "rules.json"\n')
    bad_trigger = '{"type": "state", "device": "zwave-2", "attribute": "switch", "to": 5}'
    (tmp_path / "rules.json").write_text(
        '[\n  {"id": "ok", "triggers": [{"type": "hub_start"}],\n'
        '   "actions": [{"type": "notify", "message": "up"}]},\n'
        f'  {{"id": "bad",\n   "triggers": [{bad_trigger}],\n'
        '   "actions": [{"type": "dance"}]}\n]\n'
    )
    result = hub_agent("check-config", "--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(f"{tmp_path}/rules.json:4: rule 'bad': $.") for line in lines), lines
    assert any("actions[0]" in line for line in lines)
    assert hub_agent("run", "--config", str(path)).stderr == result.stderr


def test_a_rules_file_with_broken_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[rules]\nfile = "rules.json"\n')
    (tmp_path / "rules.json").write_text('[\n  {"id": "x",,}\n]\n')
    result = hub_agent("check-config", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{tmp_path}/rules.json:2: JSON syntax error")
