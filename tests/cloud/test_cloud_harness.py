"""Shared harness for the cloud tests, the SIGKILL child and the benchmark: a real in-process agent core.

The agent is real (Hub, EventBus, SQLite Database, CloudLink) and the radio is the project's simulated
radio, the outermost edge. The cloud is the DevRelay: a real websockets server with mutual TLS on
127.0.0.1, with certificates made by `cryptography` here. Time runs on a ScaledClock so back-off and
ping intervals of tens of seconds take tens of milliseconds, without any test sleeping to wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_agent import identity
from hub_agent.cloud.devcloud import DevPki, DevRelay, make_dev_pki
from hub_agent.cloud.link import CloudLink, LinkState
from hub_agent.config import Config, load_config
from hub_agent.hub import Hub
from hub_agent.runtime import RulesApi, Runtime
from hub_agent.store import STORE_FILE, Database
from hub_core.backoff import Backoff
from hub_core.bus import EventBus
from hub_core.model import Protocol
from radios.base import RadioContext
from radios.sim.household import SimRadio

HUB_ID = "hub-test-0001"


class ScaledClock:
    """Link time runs `speed` times faster than real time; wall time can be shifted for expiry tests."""

    def __init__(self, speed: float = 100.0) -> None:
        self.speed = speed
        self.wall_offset = 0.0
        self.monotonic_offset = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return time.time() + self.wall_offset

    def monotonic(self) -> float:
        return time.monotonic() * self.speed + self.monotonic_offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(seconds / self.speed)


def write_config(
    folder: Path, paths: DevPki, url: str, *, extra_cloud: str = "", hub_id: str = HUB_ID
) -> Config:
    """A config file with a simulated Z-Wave radio and [cloud] pointing at the relay."""
    data = folder / "data"
    data.mkdir(exist_ok=True)
    text = (
        f'[hub]\nid = "{hub_id}"\ndata_dir = "{data}"\n'
        '[zwave]\nport = "sim"\n'
        f'[cloud]\nurl = "{url}"\nca = "{paths.ca_cert}"\n'
        f'cert = "{paths.hub_cert}"\nkey = "{paths.hub_key}"\n'
        f"{extra_cloud}"
    )
    path = folder / "hub.toml"
    path.write_text(text)
    return load_config(path)


@dataclass
class Agent:
    """The in-process agent core with its cloud link running."""

    runtime: Runtime
    radio: SimRadio
    link: CloudLink
    task: asyncio.Task[None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hub(self) -> Hub:
        return self.runtime.hub

    async def connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self.link.wait_for(LinkState.CONNECTED)


async def build_agent(
    config: Config,
    *,
    clock: Any = None,
    rules: RulesApi | None = None,
    backoff: Backoff | None = None,
    devices: bool = True,
    auth_retry: float = 900.0,
    radio_class: type[SimRadio] = SimRadio,
) -> Agent:
    """Build the agent core (store, bus, hub, simulated radio, cloud link); the link is not started."""
    db = Database(config.hub.data_dir / STORE_FILE)
    bus = EventBus()
    hub = Hub(bus)
    runtime = Runtime(
        config=config,
        hub=hub,
        bus=bus,
        db=db,
        hub_id=identity.hub_id(config),
        version="0.1.0-test",
        boot_id=uuid.uuid4().hex,
        rules=rules,
    )
    link = CloudLink(runtime, clock=clock or ScaledClock(), backoff=backoff, auth_retry=auth_retry)
    radio = radio_class(Protocol.ZWAVE, RadioContext(config.hub.data_dir, hub.ingest))
    hub.radios[Protocol.ZWAVE] = radio
    await radio.start()
    if devices:
        await radio.set_inclusion(60)
        async with asyncio.timeout(5):
            while len(hub.devices()) < 7:
                await asyncio.sleep(0)
        await radio.set_inclusion(0)
    return Agent(runtime, radio, link)


@contextlib.asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    """Run the agent's cloud link for the duration of the block, then stop everything cleanly."""
    agent.task = asyncio.create_task(agent.link.run())
    try:
        yield agent
    finally:
        await stop_agent(agent)


async def stop_agent(agent: Agent) -> None:
    if agent.task is not None:
        agent.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await agent.task
        if agent.task.done() and not agent.task.cancelled() and agent.task.exception() is not None:
            raise agent.task.exception()  # type: ignore[misc]
        agent.task = None
    await agent.radio.stop()
    await agent.runtime.db.close()


@contextlib.asynccontextmanager
async def relay_for(paths: DevPki, **kwargs: Any) -> AsyncIterator[DevRelay]:
    relay = DevRelay.from_pki(paths, **kwargs)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


async def next_events(relay: DevRelay, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next `count` new events the relay received, as (seq, event) checked in order."""
    out = []
    async with asyncio.timeout(timeout):
        for _ in range(count):
            _, event = await relay.events.get()
            out.append({"seq": event.seq, **event.event})
    return out


async def next_message(relay: DevRelay, kind: str, timeout: float = 10.0) -> Any:
    """The next non-event message of type `kind` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            _, message = await relay.messages.get()
            if message.type.value == kind:
                return message


def pki_for(tmp_path: Path, hub_id: str = HUB_ID) -> DevPki:
    """A fresh throwaway PKI (dev CA, relay cert for 127.0.0.1/localhost, hub client cert)."""
    return make_dev_pki(tmp_path / "pki", hub_id)


def test_dev_pki_makes_a_chain_the_hub_key_matches(tmp_path: Path) -> None:
    from hub_agent.cloud import pki

    pki_paths = pki_for(tmp_path)

    cert = pki.load_certificate(pki_paths.hub_cert)
    key = pki.load_key(pki_paths.hub_key)
    assert pki.common_name(cert) == HUB_ID
    assert (
        pki.check_new_certificate(pki.pem(cert).decode(), key, HUB_ID, dt.datetime.now(dt.UTC)).serial_number
        == cert.serial_number
    )
    assert pki_paths.hub_key.stat().st_mode & 0o777 == 0o600
    assert pki_paths.ca_key.stat().st_mode & 0o777 == 0o600
