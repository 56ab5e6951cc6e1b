"""`SecureZWaveRadio`: the Z-Wave radio with `ZWaveSecurity` on its Security seam.

The keys are loaded (or created) by the caller before the radio is built, so a bad keys file
stops the start-up with a ConfigError naming it. Grants live in `<data_dir>/zwave-security.json`.
Devices carry `security` (their highest class, or "none"); bootstrapping news reaches the hub as
`InclusionUpdate` events (`pin_required` with the masked DSK, `secured`, `security_failed`, and
`smart_start` with the provisioning entry's masked DSK when a provisioned node joined by itself:
smartstart.py keeps the stick listening while the provisioning list is not empty).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from hub_core.errors import InvalidCommand
from hub_core.model import Device, DeviceId, InclusionUpdate
from radios.base import RadioContext
from radios.zwave.node import NodeRecord
from radios.zwave.radio import ZWaveRadio

from .grants import GrantStore
from .keystore import NetworkKeys
from .provisioning import Provisioned, ProvisioningList, parse_dsk
from .qr import QRCodeError, parse_qr
from .service import InclusionNotice, ZWaveSecurity
from .smartstart import SmartStart
from .target import POLICIES, PinTarget

GRANTS_FILE = "zwave-security.json"
PROVISIONING_FILE = "zwave-provisioning.json"
__all__ = ["GRANTS_FILE", "PinTarget", "SecureZWaveRadio"]


class SecureZWaveRadio(ZWaveRadio):
    """ZWaveRadio + S2/S0: encapsulation, bootstrapping at inclusion, PIN entry, `security` on devices."""

    def __init__(self, ctx: RadioContext, port: str, keys: NetworkKeys, **options: Any) -> None:
        self.provisioning = ProvisioningList(ctx.data_dir / PROVISIONING_FILE)
        smart_start = options.pop("smart_start", {})
        security = ZWaveSecurity(
            keys,
            GrantStore(ctx.data_dir / GRANTS_FILE),
            notify=self._notice,
            provisioning=self.provisioning,
            **options.pop("security", {}),
        )
        super().__init__(ctx, port, encapsulation=security, bootstrap=security, **options)
        self.security = security
        security.attach(self.link.transmit_raw, self._network_ids)
        describe = self.registry.describe

        def described(record: NodeRecord, endpoint: int) -> Device:
            return replace(describe(record, endpoint), security=security.security_of(record.node_id))

        self.registry.describe = described
        self.registry.on_forget.append(security.forget_later)
        self.smart_start = SmartStart(
            controller=self._live_controller,
            provisioning=self.provisioning,
            security=security,
            registry=self.registry,
            setup=self.setup,
            classic_busy=self._classic_busy,
            notify=self._notice,
            **smart_start,
        )
        self.reception.on_smart_start = self.smart_start.announced

    def _classic_busy(self) -> bool:
        modes = (self.inclusion.inclusion, self.inclusion.exclusion)
        return any(task is not None and not task.done() for task in modes)

    def _watch(self, task: asyncio.Task[None] | None) -> None:
        # SmartStart listening resumes when this classic network mode ends.
        if task is not None:
            task.add_done_callback(lambda _: self.smart_start.poke())

    def _set_running(self) -> None:
        super()._set_running()
        if self.controller is not None:
            self.controller.on_soft_reset = self.smart_start.restarted
        self.smart_start.restarted()  # a started or recovered stick is not listening yet

    def _network_ids(self) -> tuple[int, int]:
        info = self.controller.info if self.controller is not None else None
        return (info.home_id, info.node_id) if info is not None else (0, 1)

    def _notice(self, notice: InclusionNotice) -> None:
        device = DeviceId(f"zwave-{notice.node_id}")
        self.ctx.emit(InclusionUpdate(device, notice.state, notice.dsk, notice.security, notice.reason))

    async def stop(self) -> None:
        """Stop the radio, then the security layer's pending answers."""
        await self.smart_start.close()
        await super().stop()
        await self.security.close()

    def enter_pin(self, pin: str) -> None:
        """The DSK PIN the joining node waits for; InvalidCommand if none waits or it is malformed."""
        self.security.enter_pin(pin)

    def set_security_policy(self, policy: str) -> None:
        """`auto` (S2 when supported, else S0 for locks) or `none` for the next inclusions."""
        if policy not in POLICIES:
            raise InvalidCommand(f"security must be one of {', '.join(POLICIES)}")
        self.security.policy = policy

    async def set_inclusion(self, seconds: float) -> None:
        """Open or close inclusion; closing also abandons a key exchange still waiting for the user."""
        if seconds <= 0:
            self.security.cancel()
        async with self.smart_start.classic():
            await super().set_inclusion(seconds)
        self._watch(self.inclusion.inclusion)

    async def remove_device(self, device: DeviceId) -> None:
        """Remove a failed node, else open exclusion; SmartStart listening pauses meanwhile."""
        async with self.smart_start.classic():
            await super().remove_device(device)
        self._watch(self.inclusion.exclusion)

    def smart_start_listening(self) -> bool:
        """True while the stick listens for provisioned nodes announcing themselves."""
        return self.smart_start.listening

    # --- SmartStart provisioning list ---------------------------------------------------------------

    def provisioning_entries(self) -> list[dict[str, object]]:
        """The provisioning list as JSON objects."""
        return [entry.to_json() for entry in self.provisioning.entries()]

    async def provision(
        self, *, qr: str | None = None, dsk: str | None = None, name: str = ""
    ) -> dict[str, object]:
        """Register a node by its QR code string or full DSK; InvalidCommand naming the problem."""
        try:
            if qr is not None:
                entry = self.provisioning.add_qr(parse_qr(qr), name)
            elif dsk is not None:
                entry = Provisioned(parse_dsk(dsk), name[:64])
                self.provisioning.add(entry)
            else:
                raise InvalidCommand("give the node's QR code string or its DSK")
        except (QRCodeError, ValueError) as exc:
            raise InvalidCommand(str(exc)) from None
        await asyncio.to_thread(self.provisioning.save)
        self.smart_start.provisioned(entry.dsk)
        await self.smart_start.sync()  # the first entry turns listening on
        return entry.to_json()

    async def unprovision(self, dsk: str) -> bool:
        """Remove an entry; False if it was not there."""
        removed = self.provisioning.remove(dsk)
        if removed:
            await asyncio.to_thread(self.provisioning.save)
            self.smart_start.provisioned(dsk)
            await self.smart_start.sync()  # the last entry gone turns listening off
        return removed
