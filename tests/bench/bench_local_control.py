"""Benchmark: local control at the serial boundary, the hub's reason to exist.

A motion report leaves our Z-Wave controller emulator (a separate process, on a pty) as bytes; the
agent (`hub-agent run`, another process) parses it, the rule fires, and the SendData frame for the
target switch arrives back at the emulator. Latency = report written -> SendData frame read, both
timed in the emulator process. The home: 200 devices (50 Z-Wave nodes in the emulator, 150 BLE devices
from the store), 500 rules, and 100 background temperature reports per second on the same serial line.

Each motion rule fires about 125 times in the run, so the runaway limit (`max_fires_per_minute`,
120 by default) is lifted for this synthetic load; with it, the rules would rightly be stopped.

Run by hand: `.venv/bin/python tests/bench/bench_local_control.py [--events 5000]`. Prints figures;
asserts nothing. Targets on this 2-core machine: p50 <= 1 ms, p99 <= 3 ms.

`--mock` runs the issue 16 probe instead, against zwave-js's MockController with its default timing
(air time: ~40 ms to the SendData response, ~20 ms more to the callback), the peer the tests use:
the household network, a rule "zwave-2 switch on/off -> zwave-3 set_level 40/0", an unsolicited Binary
Switch Report from node 2 every 250 ms, and the multisensor (node 4) reporting temperature 10 times
a second as background load. Latency is measured inside the mock, from the report frame leaving
node 2 to the rule's Multilevel Switch Set arriving for node 3. It also counts the Multilevel Switch
Gets (verification) the host sent node 3 per 100 Sets, and the latency from the report frame being
written to the host (the mock's air time for the report left out). From the mock's trace of every
Serial API frame it also tells, per trigger, whether a transaction was on the link when the report
reached the host and until when, and prints the latency "beyond the transaction on the air" (minus
that remaining time), plus what started on the link between the report and the Set (nothing of ours
should) and the worst triggers with why. The same probe then runs with zwave-js's own Driver as the
host (tests/peers/zwave/bench_zwavejs_rule.mjs), on the same mock process with a fresh household and
the same schedule; `--no-zwavejs` leaves it out.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

SENSORS = range(10, 30)  # motion sensors, each paired with switch id + 30
SWITCH_OFFSET = 30
BACKGROUND = range(70, 80)  # temperature sensors reporting 100 times a second in all
BLE_DEVICES = 150
SEND_DATA = 0x13
SEND_DATA_BRIDGE = 0xA9  # what zwave-js's Driver sends instead


# --- the emulator process ----------------------------------------------------------------------


async def emulator_main() -> None:
    """Serve the emulated stick; on `go N` run N measured events and print the latencies as JSON."""
    from radios.sim.zwave_emulator import ZWaveEmulator
    from radios.sim.zwave_nodes import household

    templates = {node.model: node for node in household()}
    emulator = ZWaveEmulator()
    await emulator.start()
    sensor_template = dataclasses.replace(templates["Sim multisensor"], listening=True)
    for node_id in [*SENSORS, *BACKGROUND]:
        state = dict(sensor_template.state)
        emulator.add_node(dataclasses.replace(sensor_template, node_id=node_id, state=state, received=[]))
    for node_id in SENSORS:
        switch = templates["Sim switch"]
        emulator.add_node(
            dataclasses.replace(
                switch, node_id=node_id + SWITCH_OFFSET, state=dict(switch.state), received=[]
            )
        )
    print(emulator.port_path, flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    events = int(line.split()[1])
    rng = random.Random(7)

    async def background() -> None:
        while True:
            node = emulator.node(rng.choice(BACKGROUND))
            node.report("temperature", round(rng.uniform(18.0, 25.0), 1))
            await asyncio.sleep(0.01)

    noise = loop.create_task(background())
    latencies: list[float] = []
    lost: list[int] = []
    try:
        for i in range(events):
            sensor = SENSORS[i % len(SENSORS)]
            target = sensor + SWITCH_OFFSET
            value = "active" if (i // len(SENSORS)) % 2 == 0 else "inactive"
            started = time.perf_counter()
            emulator.node(sensor).report("motion", value)
            try:
                await emulator.wait_for_frame(
                    lambda f, t=target: f.function == SEND_DATA and len(f.payload) > 0 and f.payload[0] == t,
                    timeout=5,
                )
            except TimeoutError:
                lost.append(i)  # reported, never hidden: a lost event is the worst result there is
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(rng.uniform(0.002, 0.006))  # events arrive spread out, not in a burst
    finally:
        noise.cancel()
        await asyncio.gather(noise, return_exceptions=True)
    print(json.dumps({"latencies": latencies, "lost": lost}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    await emulator.stop()


# --- the benchmark driver ----------------------------------------------------------------------


def rules() -> list[dict[str, Any]]:
    """500 rules: 40 motion -> switch, 10 numeric on the background sensors, 450 on BLE devices."""
    out: list[dict[str, Any]] = []
    for sensor in SENSORS:
        for to, command in (("active", "on"), ("inactive", "off")):
            out.append(
                {
                    "id": f"motion-{sensor}-{to}",
                    "triggers": [
                        {"type": "state", "device": f"zwave-{sensor}", "attribute": "motion", "to": to}
                    ],
                    "actions": [
                        {"type": "command", "device": f"zwave-{sensor + SWITCH_OFFSET}", "command": command}
                    ],
                }
            )
    for sensor in BACKGROUND:
        out.append(
            {
                "id": f"too-hot-{sensor}",
                "triggers": [
                    {"type": "numeric", "device": f"zwave-{sensor}", "attribute": "temperature", "above": 40}
                ],
                "actions": [{"type": "notify", "message": "too hot"}],
            }
        )
    for n in range(BLE_DEVICES):
        device = f"ble-{n:012x}"
        for k, (attribute, trigger) in enumerate(
            (("switch", {"to": "on"}), ("switch", {"to": "off"}), ("level", {"above": 50}))
        ):
            kind = "numeric" if "above" in trigger else "state"
            out.append(
                {
                    "id": f"ble-{n}-{k}",
                    "triggers": [{"type": kind, "device": device, "attribute": attribute, **trigger}],
                    "actions": [
                        {
                            "type": "command",
                            "device": f"ble-{(n + 1) % BLE_DEVICES:012x}",
                            "command": "toggle",
                        }
                    ],
                }
            )
    return out


async def seed_store(data_dir: Path, ble_devices: int = BLE_DEVICES) -> str:
    """BLE devices known from before (150), and a LAN token for watching the agent come up."""
    from hub_agent.lan.tokens import create_token
    from hub_agent.store import STORE_FILE, Database
    from hub_agent.store.devices import save_device, save_state
    from hub_core.model import Device, DeviceId, Protocol

    db = Database(data_dir / STORE_FILE)
    for n in range(ble_devices):
        device = Device(
            DeviceId(f"ble-{n:012x}"), Protocol.BLE, f"BLE light {n}", capabilities=("switch", "level")
        )
        db.submit_nowait(save_device(device))
        db.submit_nowait(save_state(device.id, "switch", "off", 1.0))
    issued = await db.write(create_token("bench"))
    await db.close()
    return issued.token


def get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def wait_until_ready(
    url: str, token: str, agent: subprocess.Popen[bytes], devices_wanted: int = 200, zwave_wanted: int = 50
) -> float:
    """Seconds until all devices are known (200), the Z-Wave ones (50) interviewed."""
    started = time.monotonic()
    while True:
        if agent.poll() is not None:
            raise SystemExit(f"the agent exited with {agent.returncode}")
        try:
            devices = get_json(url + "/api/v1/devices", token)
        except OSError:
            devices = []
        zwave = [d for d in devices if d["protocol"] == "zwave" and d["capabilities"]]
        if len(devices) >= devices_wanted and len(zwave) >= zwave_wanted:
            return time.monotonic() - started
        if time.monotonic() - started > 120:
            raise SystemExit(f"only {len(devices)} devices after 120 s")
        time.sleep(0.2)


def seed_with(agent_root: Path, data_dir: Path) -> str:
    """Seed the store with that checkout's own code (its store schema may be older than ours)."""
    script = (
        "import asyncio, sys; from pathlib import Path; sys.path.insert(0, 'tests/bench'); "
        "import bench_local_control as b; print(asyncio.run(b.seed_store(Path(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data_dir)],
        cwd=agent_root,
        env={**os.environ, "PYTHONPATH": str(agent_root)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_ns(pid: int) -> tuple[int, int]:
    """(on a CPU, runnable but waiting for one) in ns, over all of the process's threads (schedstat)."""
    ran = waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "schedstat").read_text().split()
        ran, waited = ran + int(fields[0]), waited + int(fields[1])
    return ran, waited


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- the zwave-js MockController probe (issue 16) -------------------------------------------------

TRIGGER_EVERY = 0.25
MOCK_RULES = [
    {
        "id": f"switch-{to}",
        "triggers": [{"type": "state", "device": "zwave-2", "attribute": "switch", "to": to}],
        "actions": [
            {"type": "command", "device": "zwave-3", "command": "set_level", "args": {"level": level}}
        ],
    }
    for to, level in (("on", 40), ("off", 0))
]


async def mock_probe(
    events: int, root: Path, agent_root: Path, hosts: list[str]
) -> dict[str, dict[str, Any]]:
    """Run the probe against a fresh household on one mock, once per host; return each host's figures."""
    sys.path.insert(0, str(root / "tests" / "zwave"))
    from zwave_peer import ZWavePeer

    peer = ZWavePeer([])
    peer.start()
    results: dict[str, dict[str, Any]] = {}
    try:
        for host in hosts:
            peer.reset("household")  # same household, fresh state, no client
            if host == "ours":
                results[host] = await _ours(peer, events, root, agent_root)
            else:
                await peer.wait_listening()
                results[host] = await _zwavejs(peer, events)
    finally:
        peer.stop()
    return results


async def _ours(peer: Any, events: int, root: Path, agent_root: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        if agent_root == root:
            token = await seed_store(base / "data", ble_devices=0)
        else:
            token = seed_with(agent_root, base / "data")
        (base / "rules.json").write_text(json.dumps(MOCK_RULES))
        lan_port = free_port()
        (base / "hub.toml").write_text(
            f'[hub]\nid = "bench"\ndata_dir = "data"\n[zwave]\nport = "{peer.url}"\n'
            f'[lan]\nlisten = "127.0.0.1:{lan_port}"\ntls = false\nmdns = false\n'
            '[rules]\nfile = "rules.json"\nmax_fires_per_minute = 100000\n'
        )
        env = {**os.environ, "PYTHONPATH": str(agent_root)}
        agent = subprocess.Popen(
            [sys.executable, "-m", "hub_agent", "run", "--config", str(base / "hub.toml")],
            stderr=open(os.environ.get("BENCH_AGENT_LOG", os.devnull), "w"),  # noqa: SIM115,
            env=env,
            cwd=agent_root,  # `python -m` puts the working directory first on sys.path
        )
        try:
            ready = await asyncio.to_thread(
                wait_until_ready, f"http://127.0.0.1:{lan_port}", token, agent, 7, 7
            )
            result = await _drive(peer, events, agent.pid)
            result["ready"] = ready
            result["rss"] = rss_mb(agent.pid)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
    return result


async def _zwavejs(peer: Any, events: int) -> dict[str, Any]:
    """The same probe with zwave-js's Driver as the host (tests/peers/zwave/bench_zwavejs_rule.mjs)."""
    from zwave_peer import PEER_DIR, check_installed

    started = time.monotonic()
    host = await asyncio.create_subprocess_exec(
        check_installed(),
        str(PEER_DIR / "bench_zwavejs_rule.mjs"),
        f"tcp://127.0.0.1:{peer.port}",
        cwd=PEER_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert host.stdin is not None and host.stdout is not None
    try:
        async with asyncio.timeout(180):
            line = await host.stdout.readline()
        if line.strip() != b"ready":
            raise SystemExit(f"zwave-js host did not get ready (exit {host.returncode})")
        result = await _drive(peer, events, host.pid)
        result["ready"] = time.monotonic() - started
        result["rss"] = rss_mb(host.pid)
    finally:
        host.stdin.close()
        try:
            async with asyncio.timeout(10):
                await host.wait()
        except TimeoutError:
            host.kill()
            await host.wait()
    return result


@dataclasses.dataclass(frozen=True, slots=True)
class Transaction:
    """One Serial API transaction: the host's request until the controller's last frame for it."""

    start: int
    end: int
    function: int
    head: bytes

    def describe(self) -> str:
        if self.function == SEND_DATA and len(self.head) >= 4:
            return f"SendData node {self.head[0]} CC {self.head[2]:02x}.{self.head[3]:02x}"
        if self.function == SEND_DATA_BRIDGE and len(self.head) >= 5:  # zwave-js: source node first
            return f"SendData node {self.head[1]} CC {self.head[3]:02x}.{self.head[4]:02x}"
        return f"function 0x{self.function:02x}"


def transactions(frames: list[Any]) -> list[Transaction]:
    """Split the link trace into transactions: each host request lasts until the last controller
    frame of the same function before the host's next request (the Serial API is one at a time)."""
    out: list[Transaction] = []
    current: list[Any] = []
    for frame in [*frames, None]:
        if frame is None or (frame.from_host and frame.kind == 0x00):
            if current:
                first = current[0]
                mine = [f for f in current[1:] if not f.from_host and f.function == first.function]
                end = mine[-1].t if mine else first.t
                out.append(Transaction(first.t, end, first.function, first.head))
            current = [frame] if frame is not None else []
        elif current:
            current.append(frame)
    return out


async def _drive(peer: Any, events: int, host_pid: int) -> dict[str, Any]:
    rng = random.Random(16)
    cpu_before, wall_before = cpu_ns(host_pid), time.monotonic_ns()

    async def background() -> None:
        while True:
            celsius = round(rng.uniform(18.0, 25.0), 1)
            raw = round(celsius * 10)
            await peer.report(4, bytes((0x31, 0x05, 0x01, 0x22)) + raw.to_bytes(2, "big"))
            await asyncio.sleep(0.1)

    # Start on a quiet link: the host may still be finishing its interview (state reads, battery).
    # The mock stamps frames with process.hrtime, CLOCK_MONOTONIC like time.monotonic_ns on Linux.
    quiet = time.monotonic()
    while time.monotonic() - quiet < 60:
        frames = await peer.link_frames()
        if not frames or time.monotonic_ns() - frames[-1].t > 2_000_000_000:
            break
        await asyncio.sleep(0.5)
    before = len(await peer.received_times(3))
    noise = asyncio.get_running_loop().create_task(background())
    sent: list[int] = []
    try:
        for i in range(events):
            value = 0xFF if i % 2 == 0 else 0x00
            sent.append(await peer.report(2, bytes((0x25, 0x03, value))))
            await asyncio.sleep(TRIGGER_EVERY)
    finally:
        noise.cancel()
        await asyncio.gather(noise, return_exceptions=True)
    cpu_after, wall = cpu_ns(host_pid), time.monotonic_ns() - wall_before
    load = os.getloadavg()[0]
    from radios.zwave import cc

    # Sets may travel inside Supervision Get: classify the command inside.
    arrivals = [(_inner(data), t) for data, t in (await peer.received_times(3))[before:]]
    sets = [t for command, t in arrivals if isinstance(command, cc.MultilevelSwitchSet)]
    gets = [t for command, t in arrivals if isinstance(command, cc.MultilevelSwitchGet)]
    handed = await peer.handed_times(2)
    background_handed = await peer.handed_times(4)
    link = transactions(await peer.link_frames())
    latencies: list[float] = []
    host: list[float] = []
    beyond: list[float] = []
    busy = 0
    ahead: dict[str, int] = {}  # what started on the link between the report reaching the host and the Set
    tail: list[tuple[float, str]] = []
    missed = 0
    for i, t0 in enumerate(sent):
        end = sent[i + 1] if i + 1 < len(sent) else t0 + int(5e9)
        mine = [t for t in sets if t0 <= t < end]
        if not mine:
            missed += 1
            continue
        latencies.append((mine[0] - t0) / 1e6)
        # The same, from the report frame reaching the host (the mock's air time left out).
        reached = [t for t in handed if t0 <= t <= mine[0]]
        if not reached:
            continue
        h, s = reached[0], mine[0]
        host.append((s - h) / 1e6)
        # Beyond the transaction already on the air: what the host added after the link came free.
        flying = [x for x in link if x.start <= h < x.end]
        remaining = max(x.end for x in flying) - h if flying else 0
        busy += bool(flying)
        beyond.append((s - h - remaining) / 1e6)
        # Whole transactions between the report and the Set (the Set's own one ends after it arrived).
        between = [x.describe() for x in link if h < x.start and x.end <= s]
        for what in between:
            ahead[what] = ahead.get(what, 0) + 1
        why = ", ".join([*(f"in flight: {x.describe()}" for x in flying), *(f"ahead: {w}" for w in between)])
        # A background report handed to the host just before (or while) the trigger was handled.
        near = [t for t in background_handed if h - 2_000_000 <= t <= s]
        if near:
            why = ", ".join(filter(None, (why, f"background report {(near[0] - h) / 1e6:+.1f} ms")))
        tail.append((beyond[-1], why or "link idle, nothing ahead"))
    tail.sort(reverse=True)
    traffic: dict[str, int] = {}  # every transaction on the link during the run, ours or not
    for x in link:
        if sent and x.start >= sent[0]:
            traffic[x.describe()] = traffic.get(x.describe(), 0) + 1
    in_flight: dict[str, int] = {}
    for x in link:
        if any(x.start <= h < x.end for h in handed if sent and h >= sent[0]):
            in_flight[x.describe()] = in_flight.get(x.describe(), 0) + 1
    return {
        "latencies": sorted(latencies),
        "host": sorted(host),
        "beyond": sorted(beyond),
        "busy": busy,
        "ahead": ahead,
        "tail": tail[: max(3, len(tail) // 100)],
        "missed": missed,
        "traffic": traffic,
        "in_flight": in_flight,
        "cpu_ms_per_s": (cpu_after[0] - cpu_before[0]) / wall * 1000,
        "wait_ms_per_s": (cpu_after[1] - cpu_before[1]) / wall * 1000,
        "load": load,
        "sets": len(sets),
        "gets": len(gets),
    }


def _inner(data: bytes) -> object:
    """The command inside (Supervision), or None for what our parser refuses (zwave-js sends more)."""
    from hub_core.errors import ProtocolError
    from radios.zwave import cc

    try:
        return cc.unwrap(cc.parse_cc(data)).command
    except ProtocolError:
        return None


def _figures(values: list[float], missed: int | None = None) -> str:
    if not values:
        return "no samples"
    text = (
        f"p50 {percentile(values, 0.5):6.2f}  p90 {percentile(values, 0.9):6.2f}  "
        f"p99 {percentile(values, 0.99):6.2f}  max {values[-1]:6.2f} ms"
    )
    return text if missed is None else f"{text}  missed {missed}"


def print_mock(results: dict[str, dict[str, Any]]) -> None:
    print("local control against zwave-js's MockController (default air timing), measured in the mock:")
    print(
        "  unsolicited Binary Switch Report from node 2 every 250 ms -> rule -> Multilevel Switch Set"
        " to node 3;"
    )
    print(
        "  background: multisensor temperature reports 10/s. Same mock process, household and"
        " schedule for each host."
    )
    names = {"ours": "ours (hub-agent run)", "zwave-js": "zwave-js Driver"}
    for name, result in results.items():
        triggers = len(result["latencies"]) + result["missed"]
        sets = max(result["sets"], 1)
        print(
            f"{names.get(name, name)}: {triggers} triggers, ready {result['ready']:.1f} s after start, "
            f"RSS {result['rss']:.1f} MB"
        )
        print(f"  raw, from the report leaving node 2:   {_figures(result['latencies'], result['missed'])}")
        print(f"  from the report reaching the host:     {_figures(result['host'])}")
        print(f"  beyond the transaction on the air:     {_figures(result['beyond'])}")
        print(f"  link busy when the report reached the host: {result['busy']} of {len(result['host'])}")
        print(
            f"  host process on a CPU {result['cpu_ms_per_s']:.0f} ms/s, runnable but waiting for a CPU "
            f"{result['wait_ms_per_s']:.0f} ms/s (schedstat); load average {result['load']:.1f}"
        )
        traffic = ", ".join(f"{what} x{n}" for what, n in sorted(result["traffic"].items()))
        print(f"  all traffic on the link during the run: {traffic}")
        flying = ", ".join(f"{what} x{n}" for what, n in sorted(result["in_flight"].items())) or "nothing"
        print(f"  on the air when a trigger reached the host: {flying}")
        ahead = ", ".join(f"{what} x{n}" for what, n in sorted(result["ahead"].items())) or "nothing"
        print(f"  started on the link between the report and the Set: {ahead}")
        print(
            f"  verify Gets per 100 Sets: {100 * result['gets'] / sets:.1f} "
            f"({result['gets']} Gets, {result['sets']} Sets)"
        )
        for ms, why in result["tail"]:
            print(f"    tail {ms:6.2f} ms beyond: {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--mock", action="store_true", help="the issue 16 probe against zwave-js's mock")
    parser.add_argument(
        "--agent-root",
        type=Path,
        help="run the agent from this checkout (e.g. a worktree of an older commit)",
    )
    parser.add_argument("--no-zwavejs", action="store_true", help="--mock without zwave-js's Driver as host")
    parser.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mock:
        root = Path(__file__).resolve().parents[2]
        hosts = ["ours"] if args.no_zwavejs else ["ours", "zwave-js"]
        print_mock(asyncio.run(mock_probe(args.events, root, args.agent_root or root, hosts)))
        return
    if args.emulator:
        asyncio.run(emulator_main())
        return
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        token = asyncio.run(seed_store(base / "data"))
        (base / "rules.json").write_text(json.dumps(rules()))
        emulator = subprocess.Popen(
            [sys.executable, __file__, "--emulator"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert emulator.stdin is not None and emulator.stdout is not None
        port = emulator.stdout.readline().strip()
        lan_port = 20000 + os.getpid() % 20000
        (base / "hub.toml").write_text(
            f'[hub]\nid = "bench"\ndata_dir = "data"\n[zwave]\nport = "{port}"\n'
            '[ble]\nadapter = "sim"\n'
            f'[lan]\nlisten = "127.0.0.1:{lan_port}"\ntls = false\nmdns = false\n'
            '[rules]\nfile = "rules.json"\nmax_fires_per_minute = 100000\n'
        )
        agent = subprocess.Popen(
            [sys.executable, "-m", "hub_agent", "run", "--config", str(base / "hub.toml")],
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            ready = wait_until_ready(f"http://127.0.0.1:{lan_port}", token, agent)
            rule_count = len(get_json(f"http://127.0.0.1:{lan_port}/api/v1/rules", token))
            emulator.stdin.write(f"go {args.events}\n")
            emulator.stdin.flush()
            results = json.loads(emulator.stdout.readline())
            latencies, lost = sorted(results["latencies"]), results["lost"]
            rss = rss_mb(agent.pid)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
            emulator.stdin.close()
            emulator.wait(timeout=10)
            emulator.stdout.close()
    print("local control at the serial boundary: motion report bytes -> rule -> SendData frame")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}; emulator and agent in separate processes on a pty"
    )
    print(
        f"home: 200 devices (50 Z-Wave, 150 BLE), {rule_count} rules, 100 background reports/s; "
        f"all devices interviewed and ready {ready:.1f} s after start"
    )
    print(
        f"events: {len(latencies)}  p50 {statistics.median(latencies):.3f} ms  "
        f"p99 {percentile(latencies, 0.99):.3f} ms  max {latencies[-1]:.3f} ms"
    )
    print(
        f"events with no command within 5 s: {len(lost)}{' (first: ' + str(lost[:5]) + ')' if lost else ''}"
    )
    print(f"agent RSS after the run: {rss:.1f} MB")


if __name__ == "__main__":
    main()
