"""Import budget of `hub-agent run`: a hub imports only what its configuration uses (issue 16.5).

Each test starts the real agent in a subprocess with a configuration and lists the top-level
packages it has imported at the moment it logs "ready" (then it stops itself with SIGTERM, as systemd
would). RSS is measured by tests/bench/bench_memory.py, never asserted here.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

# Runs inside the agent's process: once a log line starting with each of the given prefixes has been
# seen ("ready in" at least), print the imported top-level packages and stop the agent the way systemd
# does.
PROBE = """
import json, logging, os, signal, sys

class Seen(logging.Handler):
    def __init__(self, prefixes):
        super().__init__()
        self.waiting = set(prefixes)

    def emit(self, record):
        if not self.waiting:
            return
        message = record.getMessage()
        self.waiting = {p for p in self.waiting if not message.startswith(p)}
        if not self.waiting:
            print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), flush=True)
            os.kill(os.getpid(), signal.SIGTERM)

logging.getLogger("hub_agent").addHandler(Seen(sys.argv[2:]))
from hub_agent.cli import main
sys.exit(main(["run", "--config", sys.argv[1]]))
"""

#: What a hub pays for only when its configuration asks for it.
OPTIONAL = frozenset(
    {
        "aiohttp",  # [lan] (and zigpy)
        "prometheus_client",  # [lan] /metrics
        "zeroconf",  # [lan] mdns = true
        "websockets",  # [cloud]
        "aiomqtt",  # [cloud] over MQTT only
        "paho",
        "zigpy",  # [zigbee]
        "jsonschema",  # zigpy's OTA module
        "bleak",  # [ble]
        "dbus_fast",
        "bthome_ble",  # [ble], on the first BTHome advertisement
        "habluetooth",
        "croniter",  # a rule with a cron trigger
        "dateutil",
    }
)

RULE = {
    "id": "porch",
    "triggers": [{"type": "state", "device": "zwave-2", "attribute": "switch", "to": "on"}],
    "actions": [{"type": "notify", "message": "porch on"}],
}
CRON_RULE = {
    "id": "morning",
    "triggers": [{"type": "time", "cron": "0 7 * * 1-5"}],
    "actions": [{"type": "notify", "message": "good morning"}],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def imported_at_ready(folder: Path, sections: str, *also: str) -> set[str]:
    """Top-level packages `hub-agent run` has imported once it logged ready (and each of `also`)."""
    config = folder / "hub.toml"
    config.write_text(f'[hub]\nid = "import-budget"\ndata_dir = "data"\n{sections}')
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(config), "ready in", *also],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines, f"the agent never reported ready: {result.stderr[-2000:]}"
    return set(json.loads(lines[-1]))


def test_a_zwave_only_hub_imports_nothing_optional(tmp_path: Path) -> None:
    loaded = imported_at_ready(tmp_path, '[zwave]\nport = "sim"\n')
    assert "radios" in loaded and "serial" in loaded  # the probe really saw the running Z-Wave hub
    assert loaded & OPTIONAL == set()


def test_lan_without_cloud_mdns_or_cron_rules_loads_only_the_lan_server(tmp_path: Path) -> None:
    (tmp_path / "rules.json").write_text(json.dumps([RULE]))
    sections = (
        '[zwave]\nport = "sim"\n'
        f'[lan]\nlisten = "127.0.0.1:{free_port()}"\nmdns = false\n'
        '[rules]\nfile = "rules.json"\n'
    )
    loaded = imported_at_ready(tmp_path, sections)
    assert {"aiohttp", "prometheus_client"} <= loaded
    assert loaded & OPTIONAL == {"aiohttp", "prometheus_client"}


@pytest.mark.parametrize("cron", [False, True], ids=["no-cron-rule", "cron-rule"])
def test_mdns_cloud_and_cron_each_load_their_own_library_only(tmp_path: Path, cron: bool) -> None:
    from hub_agent.cloud.devcloud import make_dev_pki

    pki = make_dev_pki(tmp_path / "pki", "import-budget")
    (tmp_path / "rules.json").write_text(json.dumps([RULE, CRON_RULE] if cron else [RULE]))
    # Nothing listens on the cloud URL's port: the link backs off, which is all this test needs.
    sections = (
        '[zwave]\nport = "sim"\n'
        f'[lan]\nlisten = "127.0.0.1:{free_port()}"\nmdns = true\n'
        f'[cloud]\nurl = "wss://127.0.0.1:9/hub"\nca = "{pki.ca_cert}"\n'
        f'cert = "{pki.hub_cert}"\nkey = "{pki.hub_key}"\n'
        '[rules]\nfile = "rules.json"\n'
    )
    # The announcement (or the warning that it failed) comes after the LAN server started.
    loaded = imported_at_ready(tmp_path, sections, "mDNS: ")
    expected = {"aiohttp", "prometheus_client", "zeroconf", "websockets"}
    if cron:
        expected |= {"croniter", "dateutil"}
    assert loaded & OPTIONAL == expected  # no MQTT client for a WebSocket cloud, no radio libraries
