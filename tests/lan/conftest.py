"""Shared parts for the LAN API tests: a real hub, store, TLS server; a fake only at the radio's edge.

`EdgeRadio` stands in for the air: it implements the Radio interface, "writes" each command as
bytes into `written` (what the benchmark times), and reports the new state back like a device would.
Everything above it (Hub, EventBus, Database on a tmp SQLite file, LanServer over TLS on 127.0.0.1)
is the real thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub_agent.config import Config, HubSection, LanSection
from hub_agent.hub import Hub
from hub_agent.lan import tls
from hub_agent.lan.pairing import FailureLimiter
from hub_agent.lan.server import LanServer
from hub_agent.lan.tokens import create_token
from hub_agent.runtime import Runtime
from hub_agent.store import STORE_FILE, Database
from hub_core.bus import EventBus
from hub_core.errors import DeliveryFailed, RuleError, RuleProblem
from hub_core.model import (
    Command,
    Device,
    DeviceAdded,
    DeviceId,
    JSONObject,
    Protocol,
    StateChanged,
)
from radios.base import Radio, RadioContext, RadioState

SWITCH = DeviceId("zwave-2")
DIMMER = DeviceId("zwave-3")


class EdgeRadio(Radio):
    """A fake radio at the outermost edge: records commands as bytes and echoes device state."""

    protocol = Protocol.ZWAVE

    def __init__(self, ctx: RadioContext) -> None:
        super().__init__(ctx)
        self.written: list[bytes] = []
        self.written_at: list[float] = []
        self.inclusion: list[float] = []
        self.behaviour = "ok"  # ok | hang | fail
        self._hang: asyncio.Event | None = None

    def counters(self) -> dict[str, int]:
        return {"written": len(self.written), "inclusions": len(self.inclusion)}

    async def start(self) -> None:
        self.state = RadioState.RUNNING
        self.ctx.emit(
            DeviceAdded(
                Device(
                    SWITCH, Protocol.ZWAVE, "Hall switch", "Edge", "S1", True, ("switch",), {"switch": "off"}
                )
            )
        )
        self.ctx.emit(
            DeviceAdded(
                Device(
                    DIMMER,
                    Protocol.ZWAVE,
                    "Desk lamp",
                    "Edge",
                    "D1",
                    True,
                    ("switch", "level"),
                    {"switch": "off", "level": 0},
                )
            )
        )

    async def stop(self) -> None:
        self.state = RadioState.STOPPED
        if self._hang is not None:
            self._hang.set()

    async def execute(self, command: Command) -> None:
        if self.behaviour == "hang":
            self._hang = asyncio.Event()
            await self._hang.wait()
        if self.behaviour == "fail":
            raise DeliveryFailed(f"{command.device} did not acknowledge", device=command.device)
        # The bytes a real radio would put on the wire: node id, command name, args.
        self.written.append(f"{command.device}:{command.name}:{sorted(command.args.items())}".encode())
        self.written_at.append(time.perf_counter())
        if command.name in ("on", "off"):
            self.ctx.emit(StateChanged(command.device, "switch", command.name))
        elif command.name == "set_level":
            level = command.args["level"]
            self.ctx.emit(StateChanged(command.device, "level", level))
            self.ctx.emit(StateChanged(command.device, "switch", "on" if level else "off"))

    async def set_inclusion(self, seconds: float) -> None:
        self.inclusion.append(seconds)


@dataclass
class MemoryRules:
    """A small in-test RulesApi: a dict of rules and a validator that reports every problem."""

    rules: dict[str, JSONObject] = field(default_factory=dict)

    def list_rules(self) -> list[JSONObject]:
        return [{**r, "last_fired": None, "last_error": None} for _, r in sorted(self.rules.items())]

    def get_rule(self, rule_id: str) -> JSONObject | None:
        rule = self.rules.get(rule_id)
        return None if rule is None else {**rule, "last_fired": None, "last_error": None}

    async def put_rule(self, rule: object) -> JSONObject:
        problems = []
        if not isinstance(rule, dict):
            raise RuleError([RuleProblem("$", "a rule must be an object")])
        if not isinstance(rule.get("triggers"), list) or not rule.get("triggers"):
            problems.append(RuleProblem("$.triggers", "needs at least one trigger"))
        if not isinstance(rule.get("actions"), list) or not rule.get("actions"):
            problems.append(RuleProblem("$.actions", "needs at least one action"))
        if "mode" in rule and rule["mode"] not in ("single", "restart", "queued", "parallel"):
            problems.append(RuleProblem("$.mode", f"unknown mode {rule['mode']!r}"))
        if problems:
            raise RuleError(problems)
        self.rules[rule["id"]] = dict(rule)
        return self.get_rule(rule["id"]) or {}

    async def delete_rule(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None


@dataclass
class Harness:
    """A running LAN server over a real hub and store, and what tests need to talk to it."""

    server: LanServer
    runtime: Runtime
    radio: EdgeRadio
    rules: MemoryRules
    data_dir: Path
    config_file: Path
    clock: list[float]
    ssl: ssl.SSLContext | bool
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        assert self.server.url is not None
        return self.server.url.rstrip("/")

    def session(self, **kwargs: Any) -> aiohttp.ClientSession:
        """A client session that verifies the server's TLS certificate against the pinned one."""
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl), **kwargs)

    async def new_token(self, name: str = "test") -> str:
        """A token made the way the CLI makes one, then loaded by the server."""
        new = await self.runtime.db.write(create_token(name))
        await self.server.reload_tokens()
        return new.token

    async def stop(self) -> None:
        """Cancel the server part, as the agent's supervisor does at shutdown."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def restart(self) -> None:
        """Run the same LanServer object again, as the supervisor does after a crash."""
        await self.stop()
        self.task = asyncio.create_task(self.server.run(), name="lan-server")
        await asyncio.wait_for(self.server.started.wait(), 15)

    def advance(self, seconds: float) -> None:
        """Move the server's monotonic clock forward."""
        self.clock[0] += seconds


CONFIG_TEMPLATE = """\
[hub]
id = "hub-test"
data_dir = "{data_dir}"

[lan]
listen = "127.0.0.1:{port}"
tls = {tls}
mdns = {mdns}
"""


@contextlib.asynccontextmanager
async def running_lan(
    tmp_path: Path,
    *,
    tls_on: bool = True,
    mdns: bool = False,
    limiter: FailureLimiter | None = None,
    rules: bool = True,
    configure: Callable[[Runtime], None] | None = None,
    hub_id: str = "hub-test",
) -> AsyncIterator[Harness]:
    """Start hub + store + radio + LAN server; stop all of it on exit, leaving nothing behind."""
    data_dir = tmp_path / "data"
    config_file = tmp_path / "hub.toml"
    config = Config(
        path=config_file,
        hub=HubSection(id=hub_id, data_dir=data_dir),
        lan=LanSection(host="127.0.0.1", port=0, tls=tls_on, mdns=mdns),
    )
    db = Database(data_dir / STORE_FILE)
    bus = EventBus()
    hub = Hub(bus)
    radio = EdgeRadio(RadioContext(data_dir=data_dir, emit=hub.ingest))
    hub.radios[Protocol.ZWAVE] = radio
    await radio.start()
    memory_rules = MemoryRules()
    runtime = Runtime(
        config=config,
        hub=hub,
        bus=bus,
        db=db,
        hub_id=hub_id,
        version="0.1.0",
        boot_id="boot-1",
        rules=memory_rules if rules else None,
    )
    if configure is not None:
        configure(runtime)
    clock = [1000.0]
    server = LanServer(
        runtime, clock=lambda: clock[0], limiter=limiter if limiter is not None else FailureLimiter()
    )
    task = asyncio.create_task(server.run(), name="lan-server")
    try:
        started = asyncio.create_task(server.started.wait())
        done, _ = await asyncio.wait({started, task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if started not in done:
            started.cancel()
            if task in done:
                task.result()  # raises the server's start-up error
            raise AssertionError("LAN server did not start within 15 s")
        # What `hub-agent pair/token --config` read: the same data_dir and the port actually bound.
        config_file.write_text(
            CONFIG_TEMPLATE.format(
                data_dir=data_dir, port=server.bound_port, tls=str(tls_on).lower(), mdns=str(mdns).lower()
            )
        )
        context: ssl.SSLContext | bool = False
        if tls_on:
            assert server.certificate is not None
            context = tls.client_context(server.certificate.cert_path)
        harness = Harness(server, runtime, radio, memory_rules, data_dir, config_file, clock, context, task)
        yield harness
        task = harness.task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await radio.stop()
        await db.close()


@pytest.fixture
async def lan(tmp_path: Path, _no_lingering_tasks: None) -> AsyncIterator[Harness]:
    """A running LAN server (TLS on, mDNS off); the task-hygiene check wraps its whole life."""
    async with running_lan(tmp_path) as harness:
        yield harness


@pytest.fixture
async def token(lan: Harness) -> str:
    """A valid token for `lan`."""
    return await lan.new_token()


def auth(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def with_state(device: Device, **state: Any) -> Device:
    """`device` with extra state (for building expectations)."""
    return replace(device, state={**device.state, **state})


@pytest.fixture
def start_lan(tmp_path: Path, _no_lingering_tasks: None) -> Callable[..., Any]:
    """`async with start_lan(**options) as lan:` for tests that need non-default servers."""

    def start(**options: Any) -> contextlib.AbstractAsyncContextManager[Harness]:
        return running_lan(options.pop("path", tmp_path), **options)

    return start
