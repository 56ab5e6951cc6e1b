"""Benchmark: RSS of `hub-agent run` as a buyer configures it, where it goes, and whether it stays flat.

The agent runs in a subprocess with `[zwave] port = "sim"`, `[zigbee] radio = "sim"`, `[ble] adapter =
"sim"`, `[lan]` (TLS, mDNS), `[cloud]` (mutual TLS to the dev relay, run here on 127.0.0.1), 500 rules
and 200 devices known from the store. After ready, inclusion is opened on the three radios (their
simulated households join) and commands go through the LAN API at a steady rate. Prints VmRSS, PSS and
USS (/proc/PID/smaps_rollup) at ready, after inclusion and after traffic, then an import breakdown (RSS
added by importing each group of modules in order, in a fresh interpreter, exactly what the agent loaded).

`--soak SECONDS` keeps the traffic going and samples RSS every `--every` seconds; it prints the samples
and the least-squares slope over the second half (KiB/min): a leak shows as a steady positive slope.

Run by hand: `.venv/bin/python tests/bench/bench_memory.py [--soak 1200] [--no-cloud] [--malloc-arena-max 2]`.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RULES = 500
DEVICES = 200

# Groups for the import breakdown, in the order the agent needs them; a module in a later group that an
# earlier group already pulled in is counted in the earlier group.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("asyncio + ssl + sqlite3", ("asyncio", "ssl", "sqlite3", "json", "logging")),
    ("cryptography", ("cryptography",)),
    ("hub_core", ("hub_core",)),
    ("hub_agent core + store", ("hub_agent.agent", "hub_agent.hub", "hub_agent.store", "hub_agent.config")),
    ("rules", ("local_rules", "hub_agent.rules")),
    ("Z-Wave stack", ("radios.zwave", "serial")),
    ("BLE (sim) + bleak", ("radios.ble", "radios.sim.ble_radio", "bleak", "bluetooth_data_tools")),
    ("bthome-ble and its deps", ("bthome_ble", "sensor_state_data", "home_assistant_bluetooth")),
    ("aiohttp", ("aiohttp", "multidict", "yarl")),
    ("LAN API (ours)", ("hub_agent.lan",)),
    ("zeroconf", ("zeroconf",)),
    ("prometheus_client", ("prometheus_client",)),
    ("websockets + cloud link", ("websockets", "hub_agent.cloud")),
    ("zigpy", ("zigpy",)),
    ("jsonschema", ("jsonschema",)),
    ("Zigbee (ours, sim)", ("radios.zigbee", "radios.sim")),
    ("OTA", ("hub_agent.ota", "tuf", "securesystemslib")),
)


# --- setup ----------------------------------------------------------------------------------------


def device_ids(count: int) -> list[tuple[str, str]]:
    """(device id, protocol) for `count` devices split across the three protocols."""
    out = []
    for n in range(count):
        if n % 3 == 0:
            out.append((f"zwave-{n + 2}", "zwave"))
        elif n % 3 == 1:
            out.append((f"zigbee-{n:016x}", "zigbee"))
        else:
            out.append((f"ble-{n:012x}", "ble"))
    return out


async def seed(data_dir: Path, count: int) -> str:
    """The known devices with a few state attributes each, and a LAN token; returns the token."""
    from hub_agent.lan.tokens import create_token
    from hub_agent.store import STORE_FILE, Database
    from hub_agent.store.devices import save_device, save_state
    from hub_core.model import Device, DeviceId, Protocol

    db = Database(data_dir / STORE_FILE)
    for n, (device_id, protocol) in enumerate(device_ids(count)):
        device = Device(
            DeviceId(device_id), Protocol(protocol), f"Device {n}", capabilities=("switch", "level")
        )
        db.submit_nowait(save_device(device))
        db.submit_nowait(save_state(device.id, "switch", "off", 1.0))
        db.submit_nowait(save_state(device.id, "level", n % 100, 1.0))
    issued = await db.write(create_token("bench"))
    await db.close()
    return issued.token


def rules(count: int, devices: int) -> list[dict[str, Any]]:
    """`count` rules over the known devices: state and numeric triggers, command and notify actions."""
    ids = [device_id for device_id, _ in device_ids(devices)]
    out: list[dict[str, Any]] = []
    for n in range(count):
        device, target = ids[n % len(ids)], ids[(n * 7 + 1) % len(ids)]
        if n % 4 == 3:
            trigger: dict[str, Any] = {"type": "numeric", "device": device, "attribute": "level", "above": 90}
            action: dict[str, Any] = {"type": "notify", "message": f"level high on {device}"}
        else:
            to = ("on", "off", "on")[n % 4]
            trigger = {"type": "state", "device": device, "attribute": "switch", "to": to}
            action = {"type": "command", "device": target, "command": "toggle"}
        out.append({"id": f"rule-{n}", "name": f"rule {n}", "triggers": [trigger], "actions": [action]})
    return out


class Relay:
    """The dev cloud relay on its own event loop in a thread (it is the peer, not the process measured)."""

    def __init__(self, folder: Path, hub_key: Path) -> None:
        from hub_agent.cloud.devcloud import DevRelay, make_dev_pki

        self.pki = make_dev_pki(folder, "bench-hub", hub_key=hub_key)
        self.loop = asyncio.new_event_loop()
        self.relay = DevRelay.from_pki(self.pki)
        self.events = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.relay.start(), self.loop).result(10)
        self.drain = asyncio.run_coroutine_threadsafe(self._drain(), self.loop)

    async def _drain(self) -> None:
        while True:  # the relay keeps every event for its tests; here they are only counted
            await self.relay.events.get()
            self.events += 1

    def stop(self) -> None:
        self.drain.cancel()
        asyncio.run_coroutine_threadsafe(self.relay.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# --- measuring ------------------------------------------------------------------------------------


def memory(pid: int) -> dict[str, int]:
    """VmRSS, Pss and USS (Private_Clean + Private_Dirty) in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
            out[line.split(":")[0]] = int(line.split()[1])
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        rollup[key] = int(value.split()[0])
    out["Pss"] = rollup.get("Pss", 0)
    out["USS"] = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
    return out


def show(label: str, figures: dict[str, int]) -> None:
    mb = {k: v / 1024 for k, v in figures.items()}
    print(
        f"{label:<34} RSS {mb['VmRSS']:6.1f} MB  PSS {mb['Pss']:6.1f}  USS {mb['USS']:6.1f}"
        f"  (anon {mb['RssAnon']:5.1f}, file {mb['RssFile']:5.1f})",
        flush=True,
    )


class Lan:
    """A tiny LAN API client (TLS to the hub's self-signed certificate on loopback; not verified here)."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=15, context=self.context) as response:
            return json.loads(response.read() or b"null")


def wait_for(what: str, check: Any, agent: subprocess.Popen[bytes], limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        if agent.poll() is not None:
            raise SystemExit(f"the agent exited with {agent.returncode} while waiting for {what}")
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)  # polling a subprocess over HTTP: there is no event to await across processes


def live_devices(lan: Lan) -> list[dict[str, Any]]:
    return [d for d in lan.call("GET", "/api/v1/devices") if d.get("available", True)]


def traffic(lan: Lan, targets: list[str], seconds: float, rate: float) -> tuple[int, int]:
    """Commands at `rate` per second to the household devices for `seconds`; (sent, failed)."""
    sent = failed = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        device = targets[sent % len(targets)]
        try:
            lan.call("POST", f"/api/v1/devices/{device}/commands", {"command": "toggle"})
        except OSError:
            failed += 1
        sent += 1
        next_at = started + sent / rate
        time.sleep(max(0.0, next_at - time.monotonic()))  # pacing the load generator, not waiting for state
    return sent, failed


def slope_kib_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (KiB) over time (min) for the given samples."""
    if len(samples) < 2:
        return 0.0
    xs = [t / 60 for t, _ in samples]
    ys = [float(v) for _, v in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


WALK = """
import importlib, json, sys
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
wanted = set(json.loads(sys.argv[1]))
groups = json.loads(sys.argv[2])
out = [('interpreter', rss())]
for name, prefixes in groups:
    before = rss()
    mine = [m for m in wanted if any(m == p or m.startswith(p + '.') for p in prefixes)]
    for mod in sorted(mine):
        try:
            importlib.import_module(mod)
        except Exception:
            pass
    out.append((name, rss() - before))
before = rss()
for mod in sorted(wanted):
    try:
        importlib.import_module(mod)
    except Exception:
        pass
out.append(('everything else the agent imported', rss() - before))
print(json.dumps(out))
"""

MODULES = """
import json, os, signal, sys, tracemalloc
def dump(*_):
    with open(os.environ['BENCH_MODULES_OUT'], 'w') as f:
        json.dump(sorted(sys.modules), f)
signal.signal(signal.SIGUSR2, dump)
snapshots = []
def sqlite_heap():
    # SQLite's own allocator (page caches of every connection in the process), which tracemalloc
    # cannot see: the same shared library _sqlite3 uses, asked through its C API.
    import ctypes, ctypes.util, _sqlite3
    lib = ctypes.CDLL(_sqlite3.__file__)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used()
heaps = []
def grown(*_):
    snapshots.append(tracemalloc.take_snapshot())
    heaps.append((sqlite_heap(), tracemalloc.get_traced_memory()[0]))
    if len(snapshots) > 1:
        stats = snapshots[-1].compare_to(snapshots[-2], 'traceback')[:12]
        with open(os.environ['BENCH_MODULES_OUT'] + '.grown', 'w') as f:
            (sq0, py0), (sq1, py1) = heaps[-2], heaps[-1]
            f.write(f'SQLite heap {sq0 / 1024:.0f} -> {sq1 / 1024:.0f} KiB; '
                    f'Python traced {py0 / 1024:.0f} -> {py1 / 1024:.0f} KiB\\n')
            for stat in stats:
                f.write(f'{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks\\n')
                f.write('\\n'.join('      ' + line for line in stat.traceback.format()[-12:]) + '\\n')
if os.environ.get('BENCH_TRACEMALLOC'):
    tracemalloc.start(int(os.environ['BENCH_TRACEMALLOC']))
    signal.signal(signal.SIGUSR1, grown)
sys.argv = ['hub-agent'] + sys.argv[1:]
from hub_agent.cli import main
sys.exit(main())
"""


def breakdown(modules: list[str], env: dict[str, str]) -> None:
    """RSS added by each group of the modules the agent had loaded, imported in order in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", WALK, json.dumps(modules), json.dumps(GROUPS)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    rows = json.loads(result.stdout)
    print("import breakdown (RSS added, fresh interpreter, the agent's own module set):")
    total = 0
    for name, kib in rows:
        total += kib
        print(f"  {name:<40} {kib / 1024:6.1f} MB")
    print(f"  {'sum (imports only, no state)':<40} {total / 1024:6.1f} MB")
    tops: dict[str, int] = {}
    for mod in modules:
        tops[mod.split(".")[0]] = tops.get(mod.split(".")[0], 0) + 1
    heavy = sorted(tops.items(), key=lambda kv: -kv[1])[:25]
    print("  modules loaded per top-level package: " + ", ".join(f"{k} {v}" for k, v in heavy))
    floor(modules, env)


OURS = ("hub_core", "hub_agent", "radios", "local_rules")
FLOOR = """
import importlib, json, sys
for mod in json.loads(sys.argv[1]):
    try:
        importlib.import_module(mod)
    except Exception:
        pass
for line in open('/proc/self/status'):
    if line.startswith('VmRSS:'):
        print(int(line.split()[1]))
"""


def floor(modules: list[str], env: dict[str, str]) -> None:
    """RSS of a fresh interpreter that imports only the libraries the agent loaded, none of our code:
    what this configuration costs before the hub's first line (the floor under any memory target)."""
    theirs = [m for m in modules if m.split(".")[0] not in OURS and m != "__main__"]
    result = subprocess.run(
        [sys.executable, "-c", FLOOR, json.dumps(theirs)], capture_output=True, text=True, env=env, check=True
    )
    kib = int(result.stdout.split()[-1])
    print(f"  the libraries alone (no hub code, no state): RSS {kib / 1024:.1f} MB ({len(theirs)} modules)")


# --- the run --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=DEVICES)
    parser.add_argument("--rules", type=int, default=RULES)
    parser.add_argument("--no-cloud", action="store_true", help="leave [cloud] out")
    parser.add_argument("--no-lan", action="store_true", help="leave [lan] out (no traffic then)")
    parser.add_argument("--radios", default="zwave,zigbee,ble", help="comma-separated: zwave,zigbee,ble")
    parser.add_argument(
        "--traffic", type=float, default=20.0, help="seconds of LAN commands before the figure"
    )
    parser.add_argument("--rate", type=float, default=20.0, help="LAN commands per second")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of steady traffic with RSS samples")
    parser.add_argument("--every", type=float, default=30.0, help="soak sample interval (s)")
    parser.add_argument("--malloc-arena-max", type=int, default=0, help="MALLOC_ARENA_MAX for the agent")
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="soak: print the Python allocations that grew (slows the agent)",
    )
    args = parser.parse_args()
    radios = set(args.radios.split(","))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MALLOC_ARENA_MAX", None)
    if args.malloc_arena_max:
        env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        data = base / "data"
        token = asyncio.run(seed(data, args.devices))
        (base / "rules.json").write_text(json.dumps(rules(args.rules, args.devices)))
        lan_port = 20000 + os.getpid() % 20000
        config = '[hub]\nid = "bench-hub"\ndata_dir = "data"\n'
        config += '[zwave]\nport = "sim"\n' if "zwave" in radios else ""
        config += '[zigbee]\nradio = "sim"\n' if "zigbee" in radios else ""
        config += '[ble]\nadapter = "sim"\n' if "ble" in radios else ""
        if not args.no_lan:
            config += f'[lan]\nlisten = "127.0.0.1:{lan_port}"\n'
        config += f'[rules]\nfile = "rules.json"\nmax_rules = {max(500, args.rules)}\n'
        config += "max_fires_per_minute = 100000\nmax_commands_per_second = 10000\n"
        relay = None
        if not args.no_cloud:
            relay = Relay(base / "pki", data / "hub.key")
            config += (
                f'[cloud]\nurl = "{relay.relay.url}"\nca = "{relay.pki.ca_cert}"\n'
                f'cert = "{relay.pki.hub_cert}"\nkey = "{relay.pki.hub_key}"\n'
            )
        (base / "hub.toml").write_text(config)
        out = base / "modules.json"
        env["BENCH_MODULES_OUT"] = str(out)
        if args.tracemalloc:
            env["BENCH_TRACEMALLOC"] = "4"  # frames: more make the snapshot diff take minutes
        agent = subprocess.Popen(
            [sys.executable, "-c", MODULES, "run", "--config", str(base / "hub.toml")],
            cwd=base,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert agent.stderr is not None
        seen: list[bytes] = []
        for line in agent.stderr:
            if b"ready in" in line:
                break
            seen = [*seen[-20:], line]
        else:
            tail = b"".join(seen).decode(errors="replace")
            raise SystemExit(f"the agent exited with {agent.wait()} before ready:\n{tail}")
        drain = threading.Thread(target=lambda: [None for _ in agent.stderr or ()], daemon=True)
        drain.start()
        try:
            print(
                f"hub-agent run: radios {sorted(radios)}, LAN {'off' if args.no_lan else 'on (TLS, mDNS)'}, "
                f"cloud {'off' if args.no_cloud else 'on (mutual TLS, dev relay)'}, {args.rules} rules, "
                f"{args.devices} known devices, MALLOC_ARENA_MAX={env.get('MALLOC_ARENA_MAX', 'unset')}"
            )
            python = f"{platform.python_implementation()} {platform.python_version()}"
            print(f"machine: {platform.machine()}, {python}")
            time.sleep(1.0)  # let start-up work that follows READY (first cloud connect) settle
            show("at ready", memory(agent.pid))
            if not args.no_lan:
                lan = Lan(f"https://127.0.0.1:{lan_port}", token)
                known = {d["id"] for d in lan.call("GET", "/api/v1/devices")}
                for protocol in sorted(radios):
                    lan.call("POST", "/api/v1/inclusion", {"protocol": protocol, "seconds": 30})
                wait_for(
                    "the households to join",
                    lambda: len(lan.call("GET", "/api/v1/devices")) > len(known),
                    agent,
                )
                time.sleep(5.0)  # households join one device after another; there is no "done" event
                devices = lan.call("GET", "/api/v1/devices")
                joined = [
                    d["id"] for d in devices if d["id"] not in known and "switch" in d.get("capabilities", [])
                ]
                print(f"  {len(devices)} devices after inclusion ({len(devices) - len(known)} joined)")
                show("after inclusion", memory(agent.pid))
                if joined and args.traffic:
                    sent, failed = traffic(lan, joined, args.traffic, args.rate)
                    show(f"after {sent} LAN commands ({failed} failed)", memory(agent.pid))
                if joined and args.soak:
                    samples: list[tuple[float, int]] = []
                    started = time.monotonic()
                    traced = False
                    while time.monotonic() - started < args.soak:
                        if args.tracemalloc and not traced and time.monotonic() - started >= args.soak / 2:
                            agent.send_signal(signal.SIGUSR1)  # the second half: after warm-up and full logs
                            traced = True
                        traffic(lan, joined, args.every, args.rate)
                        rss = memory(agent.pid)["VmRSS"]
                        samples.append((time.monotonic() - started, rss))
                        print(f"  soak t={samples[-1][0]:7.0f} s  RSS {rss / 1024:6.1f} MB", flush=True)
                    if args.tracemalloc:
                        agent.send_signal(signal.SIGUSR1)
                        wait_for("the allocation diff", Path(f"{out}.grown").exists, agent, 300)
                        time.sleep(1.0)
                        print("Python allocations that grew in the second half (tracemalloc):")
                        print(Path(f"{out}.grown").read_text())
                    half = samples[len(samples) // 2 :]
                    print(
                        f"soak {args.soak:.0f} s at {args.rate:.0f} commands/s: RSS "
                        f"{samples[0][1] / 1024:.1f} -> {samples[-1][1] / 1024:.1f} MB, slope over the "
                        f"second half {slope_kib_per_min(half):+.1f} KiB/min, over all "
                        f"{slope_kib_per_min(samples):+.1f} KiB/min"
                    )
            if relay is not None:
                print(f"  cloud relay received {relay.events} events")
            agent.send_signal(signal.SIGUSR2)
            wait_for("the module list", out.exists, agent, 10)
            time.sleep(0.2)
            modules = json.loads(out.read_text())
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=15)
            if relay is not None:
                relay.stop()
        if not args.no_breakdown:
            breakdown(modules, env)


if __name__ == "__main__":
    main()
