"""The emulated stick on a TCP port: what zigpy-znp opens with `socket://HOST:PORT`.

One host at a time, like a serial port: a new connection takes the stick from the previous one.
The NV and the household's memberships persist in a JSON state file (mode 0600: it holds the
network key), written 0.1 s after a change and on stop, so a restarted emulator is the same stick
(a SIGKILL loses at most the last 0.1 s, like a stick pulled mid-write).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
from pathlib import Path
from typing import Any

import zigpy.types as _t
from zigpy.types import EUI64

from radios.sim.zigbee_air import act
from radios.sim.zigbee_device import SimZigbeeDevice
from radios.sim.znp import nv as nvm
from radios.sim.znp.coordinator import ZnpCoordinator
from radios.sim.znp.frames import Frame, FrameParser

log = logging.getLogger(__name__)

t: Any = _t
STATE_VERSION = 1
DEFAULT_HARDWARE_IEEE = "00:12:4b:00:2a:5c:77:01"
#: the state file is written this long after a change (changes meanwhile are written together)
SAVE_DELAY = 0.1


class StateError(ValueError):
    """The state file exists but is not an emulator state."""


class _Link(asyncio.Protocol):
    """One host connection: bytes in become frames for the coordinator."""

    def __init__(self, emulator: ZnpEmulator) -> None:
        self._emulator = emulator
        self._parser = FrameParser()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._emulator._attach(self)

    def data_received(self, data: bytes) -> None:
        for frame in self._parser.feed(data):
            try:
                self._emulator.coordinator.handle(frame)
            except Exception:  # a bug of ours must not look like a dead stick to the host
                log.exception("ZNP emulator failed on %s", frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self._emulator._detach(self)
        self.transport = None


class ZnpEmulator:
    """An emulated Z-Stack 3.30 coordinator stick with a simulated household in range."""

    def __init__(
        self,
        state_path: Path | None = None,
        *,
        household: list[SimZigbeeDevice] | None = None,
        hardware_ieee: str = DEFAULT_HARDWARE_IEEE,
    ) -> None:
        self.state_path = state_path
        self._link: _Link | None = None
        self._server: asyncio.Server | None = None
        self._save_scheduled = False
        self._save_handle: asyncio.TimerHandle | None = None
        self.connections = 0
        self.address: tuple[str, int] | None = None
        saved = self._read_state()
        ieee = t.EUI64.convert(saved.get("hardware_ieee", hardware_ieee))
        nv = nvm.NvStore.from_json(saved["nv"]) if "nv" in saved else nvm.blank(ieee.serialize())
        self.coordinator = ZnpCoordinator(nv, ieee, self._send, self._changed)
        self.air = self.coordinator.air
        self.air.add(household or [])
        if "devices" in saved:
            self.air.load_json(saved["devices"])

    # --- the port -----------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0: any free port); return the `socket://` URL for zigpy-znp."""
        self._server = await asyncio.get_running_loop().create_server(lambda: _Link(self), host, port)
        sockname = self._server.sockets[0].getsockname()
        self.address = (str(sockname[0]), int(sockname[1]))
        return self.url

    @property
    def url(self) -> str:
        """`socket://HOST:PORT` of the listening port."""
        if self.address is None:
            raise RuntimeError("the emulator is not listening")
        return f"socket://{self.address[0]}:{self.address[1]}"

    async def stop(self) -> None:
        """Unplug: drop the host, stop listening, save the state."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        link = self._link
        if link is not None and link.transport is not None:
            link.transport.abort()
        if server is not None:
            await server.wait_closed()
        self.save()

    def _attach(self, link: _Link) -> None:
        old, self._link = self._link, link
        self.connections += 1
        if old is not None and old.transport is not None:
            old.transport.abort()

    def _detach(self, link: _Link) -> None:
        if self._link is link:
            self._link = None

    def _send(self, frame: Frame) -> None:
        link = self._link
        if link is not None and link.transport is not None and not link.transport.is_closing():
            link.transport.write(frame.encode())

    # --- state --------------------------------------------------------------------------------------

    def _read_state(self) -> dict[str, Any]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateError(f"cannot read ZNP emulator state {self.state_path}: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise StateError(f"{self.state_path} is not a ZNP emulator state (version {STATE_VERSION})")
        return data

    def _changed(self) -> None:
        if self.state_path is None or self._save_scheduled:
            return
        self._save_scheduled = True
        # Coalesced: formation alone writes NV a few hundred times within a second.
        with contextlib.suppress(RuntimeError):  # no loop (construction): saved at stop
            self._save_handle = asyncio.get_running_loop().call_later(SAVE_DELAY, self.save)

    def save(self) -> None:
        """Write the state file now (atomically, 0600)."""
        self._save_scheduled = False
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        if self.state_path is None:
            return
        state = {
            "version": STATE_VERSION,
            "hardware_ieee": str(self.coordinator.hardware_ieee),
            "nv": self.coordinator.nv.to_json(),
            "devices": self.air.to_json(),
        }
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle, sort_keys=True)
        os.replace(tmp, self.state_path)

    # --- faults -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """The stick reboots on its own (watchdog): reset indication, network and endpoints gone."""
        self.coordinator.reset()

    def simulate_activity(self, rng: random.Random) -> None:
        """One joined device does something plausible (the demo calls this now and then)."""
        candidates = [d for d in self.air.devices.values() if d.joined and d.reachable]
        if candidates:
            act(rng.choice(candidates), rng)

    def hardware(self) -> EUI64:
        """The stick's factory IEEE address."""
        ieee: EUI64 = self.coordinator.hardware_ieee
        return ieee
