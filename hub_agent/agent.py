"""The agent process: open the store, restore devices, start rules, radios and services, stop cleanly.

Order matters and is the point of this file:
1. open the store and restore devices and last known state into the hub (local control from the cache);
2. build every part, so each subscribes to the bus before the first radio event can arrive;
3. load rules (before radios, so the first event already finds them);
4. start radios and services under supervision; ready (sd_notify READY=1) once each radio tried once;
5. on stop: services, then rules, then radios, then the store is flushed and closed — within 5 s.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from hub_agent import __version__, systemd
from hub_agent.config import Config
from hub_agent.hub import Hub, StatePersister
from hub_agent.identity import hub_id
from hub_agent.radio_registry import enabled_radios
from hub_agent.runtime import Part, RulesPart, Runtime
from hub_agent.store import STORE_FILE, Database
from hub_agent.store.devices import load_devices
from hub_core.bus import EventBus
from hub_core.errors import HubError, ServiceUnavailable
from hub_core.supervisor import Supervisor
from radios.base import Radio, RadioContext

log = logging.getLogger(__name__)

#: How long readiness waits for a radio's first start attempt before declaring ready without it.
RADIO_START_GRACE = 10.0


class RadioPart:
    """Supervises one radio: start it, keep it, stop it; a failed start is retried by the supervisor."""

    def __init__(self, radio: Radio) -> None:
        self.radio = radio
        self.name = f"radio:{radio.protocol.value}"
        self.first_attempt = asyncio.Event()

    async def run(self) -> None:
        """Start the radio and hold it until cancelled; always stop it on the way out."""
        try:
            try:
                await self.radio.start()
            except (HubError, OSError) as exc:
                section = self.radio.protocol.value
                raise ServiceUnavailable(
                    f"{section} radio cannot start: {exc}",
                    hint=f"check that the stick is plugged in and [{section}] in the config names it",
                ) from exc
            finally:
                self.first_attempt.set()
            log.info("%s radio running", self.radio.protocol.value)
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self._stop())

    async def _stop(self) -> None:
        try:
            async with asyncio.timeout(2.0):
                await self.radio.stop()
        except Exception:
            log.exception("%s radio did not stop cleanly", self.radio.protocol.value)


@dataclass(slots=True)
class Agent:
    """One running hub agent, built from a config; `start()`, then `stop()`."""

    config: Config
    runtime: Runtime | None = None
    supervisor: Supervisor = field(default_factory=Supervisor)
    radio_parts: list[RadioPart] = field(default_factory=list)
    #: every supervised part by name (e.g. "lan", "cloud", "rules"), for the demo and diagnostics
    parts: dict[str, Part] = field(default_factory=dict)
    ready_ms: float | None = None
    #: set by `request_exit` (an OTA "reboot"): `hub-agent run` stops the agent and exits with exit_code
    exit_requested: asyncio.Event = field(default_factory=asyncio.Event)
    exit_code: int = 0
    _watchdog: asyncio.Task[None] | None = None

    def request_exit(self, code: int) -> None:
        """Ask the process to stop the agent and exit with `code` (hub_agent.ota.EXIT_REBOOT)."""
        log.warning("exit requested with code %d", code)
        self.exit_code = code
        self.exit_requested.set()

    async def start(self) -> Runtime:
        """Bring the agent up to ready; returns the runtime (hub, bus, store) it built."""
        started = time.perf_counter()
        config = self.config
        data_dir = config.hub.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        db = Database(data_dir / STORE_FILE)
        bus = EventBus()
        hub = Hub(bus)
        hub.restore(db.read_now(load_devices))
        runtime = Runtime(
            config=config,
            hub=hub,
            bus=bus,
            db=db,
            hub_id=hub_id(config),
            version=__version__,
            boot_id=str(uuid.uuid4()),
        )
        self.runtime = runtime
        log.info(
            "hub %s version %s boot %s: restored %d devices from the store",
            runtime.hub_id,
            runtime.version,
            runtime.boot_id,
            len(hub.devices()),
        )

        core: list[Part] = [StatePersister(bus, db)]
        rules = _rules_service(runtime)
        runtime.rules = rules
        rules.load()
        core.append(rules)
        services = _services(runtime)

        known = {device.id: device for device in hub.devices()}
        for protocol, factory in enabled_radios(config):
            try:
                radio = factory(
                    RadioContext(
                        data_dir=data_dir, emit=hub.ingest, known_devices=known, state_reader=hub.state_of
                    )
                )
            except Exception as exc:
                # A radio we cannot even build (missing extra, bad port) must not cost local control
                # on the others; it is reported and the rest of the hub comes up.
                log.error("%s radio disabled: %s", protocol.value, exc)
                continue
            hub.radios[protocol] = radio
            self.radio_parts.append(RadioPart(radio))

        if config.ota is not None:
            # Imported only with [ota]; the dir backend's boot step runs here, before any part starts.
            from hub_agent.ota.wiring import build_ota

            try:
                services.append(build_ota(runtime, services, self.request_exit))
            except HubError as exc:
                # Like a radio that cannot be built: reported, and the hub runs without updates.
                log.error("over-the-air updates disabled: %s", exc)

        # The store writer and rules first, since the radios feed them; services last, stopped first.
        for part in [*core, *self.radio_parts, *services]:
            self.parts[part.name] = part
            self.supervisor.start(part.name, part.run)

        if self.radio_parts:
            waits = [asyncio.ensure_future(p.first_attempt.wait()) for p in self.radio_parts]
            _, pending = await asyncio.wait(waits, timeout=RADIO_START_GRACE)
            for wait in pending:
                wait.cancel()
        self.ready_ms = (time.perf_counter() - started) * 1000
        states = ", ".join(f"{p.radio.protocol.value}={p.radio.state.value}" for p in self.radio_parts)
        log.info("ready in %.0f ms (radios: %s)", self.ready_ms, states or "none")
        systemd.notify(f"READY=1\nSTATUS=ready, {len(hub.devices())} devices")
        interval = systemd.watchdog_interval()
        if interval:
            self._watchdog = asyncio.get_running_loop().create_task(_watchdog(interval))
        return runtime

    async def stop(self) -> None:
        """Stop every part and close the store; returns within about 5 s whatever the parts do."""
        systemd.notify("STOPPING=1")
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        await self.supervisor.stop(timeout=4.0)
        if self.runtime is not None:
            await self.runtime.db.close()
        log.info("stopped")


async def _watchdog(interval: float) -> None:
    """Ping systemd's watchdog from the event loop, so a stuck loop gets the agent restarted."""
    while True:
        systemd.notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def _rules_service(runtime: Runtime) -> RulesPart:
    """The rules engine; it always runs (rules can arrive over the LAN or from the cloud)."""
    from hub_agent.rules.service import RulesService

    return RulesService(runtime)


def _services(runtime: Runtime) -> list[Part]:
    """The LAN API and the cloud link, each if its config section is present (imported only then)."""
    parts: list[Part] = []
    lan = None
    if runtime.config.lan is not None:
        from hub_agent.lan.server import LanServer

        lan = LanServer(runtime)
        parts.append(lan)
    if runtime.config.cloud is not None:
        from hub_agent.cloud.link import CloudLink

        link = CloudLink(runtime)
        parts.append(link)
        if lan is not None:
            lan.metrics.registry.register(link.metrics())  # hub_cloud_* on /metrics
    return parts
