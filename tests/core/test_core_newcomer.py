"""What a newcomer met trying the whole agent: check-config must catch what `run` would refuse later."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from hub_agent.commands.demo import EventPrinter
from hub_core.bus import EventBus
from hub_core.model import Device, DeviceAdded, DeviceId, Protocol, StateChanged

ROOT = Path(__file__).resolve().parents[2]


def check_config(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub_agent", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def test_check_config_names_a_bad_zwave_keys_file_and_each_bad_entry(tmp_path: Path) -> None:
    keys = tmp_path / "zwave-keys.json"
    keys.write_text('{"S2_AccessControl": "zz", "S3": "00"}')
    keys.chmod(0o600)
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub]\ndata_dir = "data"\n[zwave]\nport = "/dev/hub-zwave"\nsecurity_keys = "{keys.name}"\n'
    )
    done = check_config(config)
    assert done.returncode == 2, done.stdout
    assert f"{keys}:0: S2_AccessControl: expected 32 hex characters" in done.stderr
    assert "unknown key 'S3'" in done.stderr
    assert "Traceback" not in done.stderr
    assert keys.read_text() == '{"S2_AccessControl": "zz", "S3": "00"}'  # checked, never rewritten


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{}", "[ota] root: not TUF root metadata"),
        (b"\xff\xfe not json", "[ota] root: not TUF root metadata"),
        (b"x" * (300 * 1024), "[ota] root: root metadata is larger than 262144 bytes"),
    ],
)
def test_check_config_refuses_an_ota_root_that_cannot_anchor_updates(
    tmp_path: Path, content: bytes, says: str
) -> None:
    root = tmp_path / "tuf-root.json"
    root.write_bytes(content)
    config = tmp_path / "hub.toml"
    config.write_text(f'[ota]\nrepository = "https://updates.example/"\nroot = "{root.name}"\n')
    done = check_config(config)
    assert done.returncode == 2, done.stdout
    assert f"{root}:0: {says}" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_config_accepts_a_self_signed_ota_root(tmp_path: Path) -> None:
    from ota.tufrepo import TufRepo

    root = tmp_path / "tuf-root.json"
    root.write_bytes(TufRepo(tmp_path / "repo").root_bytes())
    config = tmp_path / "hub.toml"
    config.write_text(f'[ota]\nrepository = "https://updates.example/"\nroot = "{root.name}"\n')
    done = check_config(config)
    assert done.returncode == 0, done.stderr


def test_check_config_refuses_a_keys_file_others_can_read(tmp_path: Path) -> None:
    keys = tmp_path / "zwave-keys.json"
    keys.write_text("{}")
    keys.chmod(0o644)
    config = tmp_path / "hub.toml"
    config.write_text('[zwave]\nport = "/dev/hub-zwave"\nsecurity_keys = "zwave-keys.json"\n')
    done = check_config(config)
    assert done.returncode == 2
    assert "readable by others (mode 644); chmod 600 it" in done.stderr


def test_check_config_creates_no_keys_file(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndata_dir = "{tmp_path / "data"}"\n[zwave]\nport = "/dev/hub-zwave"\n')
    done = check_config(config)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "data" / "zwave-keys.json").exists()


def test_check_config_refuses_an_mqtts_url_over_the_websocket_protocol(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("ca\n")
    config = tmp_path / "hub.toml"
    config.write_text('[cloud]\nurl = "mqtts://cloud.example:8883"\nca = "ca.pem"\n')
    done = check_config(config)
    assert done.returncode == 2
    assert f'{config}:1: [cloud] an mqtts:// url needs protocol = "mqtt"' in done.stderr
    config.write_text('[cloud]\nprotocol = "mqtt"\nurl = "mqtts://cloud.example:8883"\nca = "ca.pem"\n')
    assert check_config(config).returncode == 0


def test_the_demo_says_an_encrypted_sensor_needs_its_key_instead_of_empty_parentheses() -> None:
    bus = EventBus()
    subscription = bus.subscribe("demo-test")
    printer = EventPrinter(subscription, io.StringIO())
    locked = Device(
        DeviceId("ble-a4c138000002"), Protocol.BLE, "Front door", model="BTHome v2 sensor", needs_key=True
    )
    line = printer.format(DeviceAdded(locked))
    assert line.endswith("joined      ble-a4c138000002 (Front door)  BTHome v2 sensor (needs its key)")
    opened = replace(locked, capabilities=("battery", "contact"), needs_key=False)
    assert printer.format(DeviceAdded(opened)).endswith("BTHome v2 sensor (battery, contact)")
    subscription.close()


def test_info_before_the_first_start_says_the_key_comes_by_itself(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\ndata_dir = "data"\n')
    done = subprocess.run(
        [sys.executable, "-m", "hub_agent", "info", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # `run` makes the key itself; "not provisioned (run: hub-agent provision)" sent people to a needless step.
    assert "hub id:       no key yet (made at first start, or by hub-agent provision)" in done.stdout


def test_the_demo_banner_ends_with_the_household_joining(tmp_path: Path) -> None:
    # Every set-up line (the Zigbee stick's too) comes before "joins now"; the join lines follow it.
    demo = subprocess.Popen(
        [sys.executable, "-m", "hub_agent", "demo", "--lan", "127.0.0.1:0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert demo.stdout is not None
    banner: list[str] = []
    try:
        for line in demo.stdout:
            if "the simulated household joins now" in line:
                break
            banner.append(line.rstrip("\n"))
        else:
            pytest.fail(f"the demo ended before its banner did: {banner}")
    finally:
        # Only the banner is under test here (stopping is test_core_cli's): a stop that hangs is killed.
        demo.terminate()
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(timeout=30)
        demo.stdout.close()
    assert any(line.startswith("  zigbee:  zigpy-znp over the emulated Z-Stack") for line in banner)
    assert all(line.startswith("  ") or line.startswith("hub-agent demo") for line in banner)


def test_the_demo_names_the_port_range_when_lan_has_a_port_too_large() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hub_agent", "demo", "--lan", "127.0.0.1:99999"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr == "hub-agent demo: --lan must be HOST:PORT with a port 0-65535, not '127.0.0.1:99999'\n"
    )


def test_token_create_names_the_option_once(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\ndata_dir = "data"\n')
    done = subprocess.run(
        [sys.executable, "-m", "hub_agent", "token", "create", "--config", str(config), "--name", " "],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "hub-agent token: --name must not be empty\n"


def test_the_demo_names_devices_restored_from_the_store_which_never_join_again() -> None:
    # A second demo on the same --data-dir printed bare ids: names came only from "joined" events.
    bus = EventBus()
    subscription = bus.subscribe("demo-test")
    lamp = Device(DeviceId("zwave-3"), Protocol.ZWAVE, "Hall dimmer", capabilities=("switch",))
    known: dict[str, Device] = {lamp.id: lamp}
    printer = EventPrinter(subscription, io.StringIO(), lambda device: known.get(device))
    line = printer.format(StateChanged(DeviceId("zwave-3"), "switch", "on"))
    assert line.endswith("state       zwave-3 (Hall dimmer)  switch = on")
    assert printer.format(StateChanged(DeviceId("zwave-9"), "switch", "on")).endswith(
        "  zwave-9  switch = on"
    )
    subscription.close()


@pytest.mark.parametrize("order", ["before", "after"])
def test_update_takes_config_before_or_after_its_action(tmp_path: Path, order: str) -> None:
    config = tmp_path / "hub.toml"
    (tmp_path / "root.json").write_text("{}")
    config.write_text(
        f'[hub]\nid = "h"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[ota]\nrepository = "https://127.0.0.1:1/r/"\nroot = "{tmp_path / "root.json"}"\n'
        f'backend = "dir"\nslots_dir = "{tmp_path / "slots"}"\n'
    )
    words = ["update", "--config", str(config), "status"]
    if order == "after":
        words = ["update", "status", "--config", str(config)]
    result = subprocess.run(
        [sys.executable, "-m", "hub_agent", *words], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "state:" in result.stdout
