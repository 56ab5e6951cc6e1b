"""Benchmark: the cost of `decide()` per event with 10, 1,000 and 10,000 rules (should be flat).

Each rule watches its own sensor and has a state and a time condition, as household rules do; the
events are motion reports on random sensors, so every event finds its rule through the index.
Run: .venv/bin/python tests/bench/bench_rules_decide.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hub_core.model import Device, DeviceId, Protocol, StateChanged
from local_rules.compiler import Fire, compile_rules, decide
from local_rules.model import Rule
from local_rules.parser import parse_rule
from local_rules.schedule import Place

EVENTS = 20_000
SIZES = (10, 1_000, 10_000)
UPDATES: dict[int, list[float]] = {}


class Registry:
    """The hub registry's lookup, over a dict."""

    def __init__(self, devices: dict[str, Device]) -> None:
        self.devices = devices

    def device(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)


def world(size: int) -> tuple[Registry, list[str], list[Rule]]:
    devices: dict[str, Device] = {}
    sensors = [f"zigbee-{i:016x}" for i in range(size)]
    for sensor in sensors:
        devices[sensor] = Device(
            DeviceId(sensor), Protocol.ZIGBEE, sensor, capabilities=("motion",), state={"motion": "inactive"}
        )
    lights = [f"zwave-{i}" for i in range(2, 202)]
    for light in lights:
        devices[light] = Device(
            DeviceId(light), Protocol.ZWAVE, light, capabilities=("switch",), state={"switch": "off"}
        )
    registry = Registry(devices)
    rules = []
    for i, sensor in enumerate(sensors):
        light = lights[i % len(lights)]
        rules.append(
            parse_rule(
                {
                    "id": f"rule-{i}",
                    "mode": "restart",
                    "triggers": [{"type": "state", "device": sensor, "attribute": "motion", "to": "active"}],
                    "conditions": [
                        {"type": "state", "device": light, "attribute": "switch", "value": "off"},
                        {"type": "time", "after": "00:00", "before": "23:59"},
                    ],
                    "actions": [
                        {"type": "command", "device": light, "command": "on"},
                        {"type": "delay", "seconds": 120},
                        {"type": "command", "device": light, "command": "off"},
                    ],
                },
                registry.device,
            )
        )
    return registry, sensors, rules


def measure(size: int, rng: random.Random) -> tuple[list[float], list[float]]:
    registry, sensors, rules = world(size)
    index = compile_rules(rules, Place("Europe/Berlin"))
    now = time.time()
    events = [
        StateChanged(DeviceId(rng.choice(sensors)), "motion", "active", now, "inactive")
        for _ in range(EVENTS)
    ]
    for event in events[:2000]:  # warm-up
        decide(index, registry, event)
    samples: list[float] = []
    clock = time.perf_counter_ns
    for event in events:
        started = clock()
        decisions = decide(index, registry, event)
        samples.append((clock() - started) / 1000)
        assert len(decisions) == 1 and isinstance(decisions[0], Fire)
    # Most events on a hub (battery, power, temperature reports) wake no rule at all.
    quiet: list[float] = []
    for event in events:
        battery = StateChanged(event.device, "battery", 90, now, 91)
        started = clock()
        decisions = decide(index, registry, battery)
        quiet.append((clock() - started) / 1000)
        assert not decisions
    # Replacing one rule (a PUT from the app or the cloud) updates the index in place.
    updates: list[float] = []
    for _i in range(200):
        replacement = rules[rng.randrange(len(rules))]
        started = clock()
        index.add(replacement)
        updates.append((clock() - started) / 1000)
    UPDATES[size] = updates
    return samples, quiet


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def row(label: str, samples: list[float]) -> str:
    return (
        f"{label:>18} {percentile(samples, 0.5):>8.2f} {percentile(samples, 0.99):>8.2f} "
        f"{max(samples):>8.2f} {statistics.fmean(samples):>8.2f}"
    )


def main() -> None:
    rng = random.Random(4)
    print(f"decide() per event, {EVENTS} events per size, microseconds (state + time condition per rule)")
    print(f"{'rules / events':>18} {'p50':>8} {'p99':>8} {'max':>8} {'mean':>8}")
    firing: dict[int, list[float]] = {}
    quiet: dict[int, list[float]] = {}
    for size in SIZES:
        firing[size], quiet[size] = measure(size, rng)
        print(row(f"{size} firing", firing[size]))
        print(row(f"{size} no rule", quiet[size]))
    for size in SIZES:
        print(row(f"{size} index.add", UPDATES[size]))
    for name, results in (("firing", firing), ("no rule", quiet)):
        small, large = results[SIZES[0]], results[SIZES[-1]]
        p50 = percentile(large, 0.5) / percentile(small, 0.5)
        p99 = percentile(large, 0.99) / percentile(small, 0.99)
        print(f"ratio {SIZES[-1]}/{SIZES[0]} {name}: p50 {p50:.2f}x, p99 {p99:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
