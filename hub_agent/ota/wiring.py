"""Builds the OTA part for the agent: the slot backend (dir: runs its boot step now), the health probe, hooks.

Kept out of agent.py so the agent only pays for these imports when `[ota]` is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from hub_agent.config import OtaSection
from hub_agent.ota.backend import SlotBackend
from hub_agent.ota.health import HealthProbe
from hub_agent.ota.service import OtaService
from hub_agent.radio_registry import enabled_radios
from hub_agent.runtime import Part, Runtime

log = logging.getLogger(__name__)


def make_backend(runtime: Runtime, section: OtaSection, exit_agent: Callable[[int], None]) -> SlotBackend:
    """The configured slot backend; the dir backend's boot step (its "bootloader") runs here."""
    if section.backend == "dir":
        from hub_agent.ota.dirslots import DirSlots

        slots = DirSlots(section.slots_dir or runtime.config.hub.data_dir / "slots", exit_agent)
        booted = slots.boot()
        log.info("dir slots: booted slot %s", booted)
        return slots
    from hub_agent.ota.rauc import RaucSlots

    return RaucSlots(section.reboot_command)


def build_ota(runtime: Runtime, services: Sequence[Part], exit_agent: Callable[[int], None]) -> OtaService:
    """The OTA part, wired to the radios, the LAN pairing window, the rules and the cloud link."""
    section = runtime.config.ota
    assert section is not None
    backend = make_backend(runtime, section, exit_agent)
    parts = {part.name: part for part in services}
    lan: Any = parts.get("lan")
    built = {protocol.value: radio for protocol, radio in runtime.hub.radios.items()}
    probe = HealthProbe(
        runtime,
        radios={protocol.value: built.get(protocol.value) for protocol, _ in enabled_radios(runtime.config)},
        lan_listening=None if lan is None else lan.started.is_set,
    )

    def pairing_open() -> bool:
        return lan is not None and bool(lan.pairing.is_open(lan.clock()))

    service = OtaService(
        runtime, section, backend, probe, pairing_open=pairing_open, busy=_rules_busy(runtime)
    )
    cloud: Any = parts.get("cloud")
    if cloud is not None:
        cloud.ota_handler = service.on_offer
    return service


def _rules_busy(runtime: Runtime) -> Callable[[], bool]:
    """Whether a rule is mid-run (in a delay, a wait or a scene): no reboot then."""

    def busy() -> bool:
        rules: Any = runtime.rules
        runner = getattr(rules, "runner", None)
        if rules is None or runner is None:
            return False
        return any(runner.running(rule["id"]) for rule in rules.list_rules())

    return busy
