"""The `rauc` backend: A/B slots through RAUC's D-Bus API (`de.pengutronix.rauc.Installer` on the system bus).

InstallBundle writes the bundle (RAUC verifies its signature against its keyring, then writes the
inactive slot of the booted slot's class and makes it primary through the bootloader); its Progress
property is relayed; the Completed signal ends the wait, and LastError says why it failed. Mark
good/bad acts on the booted slot; the booted slot is the one GetSlotStatus reports as "booted".
Slot names are RAUC's (`rootfs.0`, `rootfs.1`). Reboot runs `[ota] reboot_command`.
The bus is the system bus (dbus-fast honours DBUS_SYSTEM_BUS_ADDRESS, which the tests use).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from dbus_fast import BusType, DBusError, Variant
from dbus_fast.aio import MessageBus, ProxyInterface

from hub_agent.ota.backend import InstallProgress, SlotInfo, SlotStatus
from hub_agent.ota.errors import BackendError
from hub_agent.ota.versions import Version, parse_version

log = logging.getLogger(__name__)

SERVICE = "de.pengutronix.rauc"
INTERFACE = "de.pengutronix.rauc.Installer"
#: The longest an install may take (writing a slot on slow flash) before it counts as hung.
INSTALL_TIMEOUT = 30 * 60.0
CALL_TIMEOUT = 30.0


def _value(data: dict[str, Any], key: str) -> Any:
    item = data.get(key)
    return item.value if isinstance(item, Variant) else item


def _version(text: Any) -> Version | None:
    try:
        return parse_version(text) if isinstance(text, str) else None
    except ValueError:
        return None


class RaucSlots:
    """A/B slots managed by the RAUC service."""

    name = "rauc"

    def __init__(self, reboot_command: tuple[str, ...]) -> None:
        self.reboot_command = reboot_command
        self.moves_bundle = False  # RAUC reads the bundle in place: no copy either way
        self.reboots_machine = True
        self._bus: MessageBus | None = None
        self._installer: ProxyInterface | None = None
        self._properties: ProxyInterface | None = None

    async def _connect(self) -> ProxyInterface:
        if self._installer is not None and self._bus is not None and self._bus.connected:
            return self._installer
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
                introspection = await bus.introspect(SERVICE, "/")
        except (OSError, DBusError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise BackendError(f"cannot reach the RAUC service on the system bus: {reason}") from None
        proxy = bus.get_proxy_object(SERVICE, "/", introspection)
        self._bus = bus
        self._installer = proxy.get_interface(INTERFACE)
        self._properties = proxy.get_interface("org.freedesktop.DBus.Properties")
        return self._installer

    async def _call(self, method: str, *args: Any) -> Any:
        installer = await self._connect()
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                return await getattr(installer, f"call_{method}")(*args)
        except DBusError as exc:
            raise BackendError(f"RAUC {method}: {exc.text}") from None
        except TimeoutError:
            raise BackendError(f"RAUC {method}: no answer within {CALL_TIMEOUT:g} s") from None

    async def status(self) -> SlotStatus:
        """Booted slot, primary slot, and each slot's boot status and bundle version."""
        raw = await self._call("get_slot_status")
        try:
            primary: str | None = await self._call("get_primary")
        except BackendError:
            primary = None  # some bootloaders cannot tell
        slots = []
        booted = None
        for name, data in raw:
            if _value(data, "state") == "booted":
                booted = name
            state = "good" if _value(data, "boot-status") == "good" else "bad"
            slots.append(SlotInfo(name, state, _version(_value(data, "bundle.version"))))
        if booted is None:
            raise BackendError("RAUC reports no booted slot")
        return SlotStatus(booted, primary, tuple(slots))

    async def install(self, bundle: Path, version: Version, sha256: str, progress: InstallProgress) -> str:
        """InstallBundle and wait for Completed; raise BackendError with RAUC's LastError on failure."""
        installer = await self._connect()
        assert self._properties is not None
        loop = asyncio.get_running_loop()
        completed: asyncio.Future[int] = loop.create_future()

        def on_completed(result: int) -> None:
            if not completed.done():
                completed.set_result(result)

        def on_changed(interface: str, changed: dict[str, Variant], invalidated: list[str]) -> None:
            if interface == INTERFACE and "Progress" in changed:
                percent = changed["Progress"].value[0]
                if isinstance(percent, int):
                    progress(percent)

        installer.on_completed(on_completed)  # type: ignore[attr-defined]
        self._properties.on_properties_changed(on_changed)  # type: ignore[attr-defined]
        try:
            await self._call("install_bundle", str(bundle), {})
            try:
                async with asyncio.timeout(INSTALL_TIMEOUT):
                    result = await completed
            except TimeoutError:
                raise BackendError(f"RAUC did not finish installing within {INSTALL_TIMEOUT:g} s") from None
        finally:
            installer.off_completed(on_completed)  # type: ignore[attr-defined]
            self._properties.off_properties_changed(on_changed)  # type: ignore[attr-defined]
        if result != 0:
            error = await installer.get_last_error()  # type: ignore[attr-defined]
            raise BackendError(f"RAUC install failed: {error or f'result {result}'}")
        status = await self.status()
        target = status.primary or next((s.name for s in status.slots if s.name != status.booted), None)
        if target is None or target == status.booted:
            raise BackendError("RAUC installed but did not make the other slot primary")
        log.info("RAUC wrote %s to %s (primary from the next boot)", version, target)
        return target

    async def mark_good(self) -> None:
        """Mark the booted slot good."""
        await self._call("mark", "good", "booted")

    async def mark_bad(self) -> None:
        """Mark the booted slot bad (the bootloader then boots the other one)."""
        await self._call("mark", "bad", "booted")

    async def reboot(self) -> None:
        """Run the reboot command; raise BackendError if it cannot be started or fails."""
        log.warning("rebooting: %s", " ".join(self.reboot_command))
        try:
            process = await asyncio.create_subprocess_exec(*self.reboot_command)
        except OSError as exc:
            command = self.reboot_command[0]
            raise BackendError(f"cannot run the reboot command {command!r}: {exc.strerror}") from None
        code = await process.wait()
        if code != 0:
            raise BackendError(f"the reboot command exited with {code}")

    async def close(self) -> None:
        """Disconnect from the bus."""
        if self._bus is not None:
            self._bus.disconnect()
            await self._bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
            self._bus = None
            self._installer = None
