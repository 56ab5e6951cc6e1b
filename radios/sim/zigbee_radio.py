"""`[zigbee] radio = "sim"`: the real zigpy adapter over the simulated air, plus what the demo needs.

Everything Zigbee is the production `ZigbeeRadio`; this subclass only exposes the air, lets the demo
make devices act, and puts the household's two bulbs in one group so scenes use a group cast.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from radios.sim import zigbee_household as hh
from radios.sim.zigbee_air import SimulatedAir
from radios.zigbee.radio import ZigbeeRadio, device_id_of, ieee_of

log = logging.getLogger(__name__)
LOUNGE_GROUP = "Lounge"


class SimZigbeeRadio(ZigbeeRadio):
    """ZigbeeRadio over a SimulatedAir (found by the configured `sim://` path)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: set once the household's two bulbs share a group
        self.bulbs_grouped = asyncio.Event()

    @property
    def air(self) -> SimulatedAir:
        """The simulated air this radio's stick is on."""
        return SimulatedAir.for_path(self._config["device"]["path"])

    async def _open(self) -> None:
        await super()._open()
        if self.app is not None:
            coordinator = self.app.state.node_info.ieee
            self.air.bring_back(ieee for ieee in self.app.devices if ieee != coordinator)

    def simulate_activity(self, rng: random.Random) -> None:
        """One simulated device does something plausible (used by `hub-agent demo`)."""
        self.air.simulate_activity(rng)

    def _announce(self, device: Any) -> None:
        super()._announce(device)
        bulbs = {ieee_of("zigbee-" + b.replace(":", "")) for b in (hh.BULB_1, hh.BULB_2)}
        if device.ieee in bulbs and all(b in self.events for b in bulbs) and self.app is not None:
            members = {device_id_of(b) for b in bulbs}
            if any(members <= group for group in self.groups().values()):
                self.bulbs_grouped.set()
            else:
                self._tasks.spawn(self._group_bulbs(sorted(members)), "sim group")

    async def _group_bulbs(self, members: list[str]) -> None:
        try:
            await self.create_group(LOUNGE_GROUP, members)
            self.bulbs_grouped.set()
        except Exception as exc:
            log.info("could not group the simulated bulbs: %r", exc)
