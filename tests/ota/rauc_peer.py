"""The real RAUC service as a test peer: a private system bus, two file-backed raw slots, a custom bootloader.

`RaucHub` owns: a `dbus-daemon` with a system-bus config in tmp (its address goes to
DBUS_SYSTEM_BUS_ADDRESS, which dbus-fast and rauc honour), a `system.conf` with slots `rootfs.0`
(bootname A) and `rootfs.1` (B) backed by files, `bootloader=custom` with a shell script that keeps the
primary slot and each slot's state in files (`set-primary` also marks the slot good, as real bootloaders
do), and `rauc service --override-boot-slot=<bootname>` for the slot a "boot" chose. `boot()` plays the
bootloader: the primary slot if it is good, else the other. Bundles are plain-format, signed by a test CA.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dbus_fast import BusType
from dbus_fast.aio import MessageBus

from hubtest.processes import signal_child

COMPATIBLE = "hub-agent-test"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""
BOOT_SCRIPT = """#!/bin/sh
# The test's "bootloader": primary and per-slot state in files next to this script.
d="$(dirname "$0")/boot"
mkdir -p "$d"
case "$1" in
  get-primary) cat "$d/primary" 2>/dev/null || echo A ;;
  set-primary) echo "$2" > "$d/primary"; echo good > "$d/state.$2" ;;
  get-state) cat "$d/state.$2" 2>/dev/null || echo good ;;
  set-state) echo "$3" > "$d/state.$2" ;;
  get-current) cat "$d/current" 2>/dev/null || echo A ;;
  *) exit 1 ;;
esac
"""
SLOT_SIZE = 4 * 1024 * 1024


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_signing_pki(folder: Path, label: str) -> tuple[Path, Path, Path]:
    """A CA (the keyring) and a signing certificate + key under it: (ca.pem, signer.pem, signer.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} CA"))
        .issuer_name(_name(f"{label} CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "signer.pem", folder / "signer.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


async def _run(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(
            f"{args[0]} {args[1]} failed ({process.returncode}): {out.decode(errors='replace')}"
        )


async def make_bundle(folder: Path, image: bytes, version: str, pki: tuple[Path, Path, Path]) -> bytes:
    """A plain RAUC bundle holding `image` for the rootfs class, signed by `pki`; returns its bytes."""
    content = folder / f"content-{version}"
    content.mkdir(parents=True)
    (content / "rootfs.img").write_bytes(image)
    (content / "manifest.raucm").write_text(
        f"[update]\ncompatible={COMPATIBLE}\nversion={version}\n[bundle]\nformat=plain\n"
        "[image.rootfs]\nfilename=rootfs.img\n"
    )
    out = folder / f"hub-{version}.raucb"
    ca, cert, key = pki
    await _run("rauc", "bundle", f"--cert={cert}", f"--key={key}", f"--keyring={ca}", str(content), str(out))
    return out.read_bytes()


class RaucHub:
    """The RAUC side of a test hub (see the module docstring)."""

    def __init__(self, folder: Path, keyring: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.bus_path = folder / "system_bus"
        self.address = f"unix:path={self.bus_path}"
        self.slots = {"A": folder / "slot-A.img", "B": folder / "slot-B.img"}
        for path in self.slots.values():
            path.write_bytes(b"\0" * SLOT_SIZE)
        script = folder / "bootloader.sh"
        script.write_text(BOOT_SCRIPT)
        script.chmod(0o755)
        self.conf = folder / "system.conf"
        self.conf.write_text(
            f"[system]\ncompatible={COMPATIBLE}\nbootloader=custom\ndata-directory={folder / 'rauc-data'}\n"
            f"[handlers]\nbootloader-custom-backend={script}\n[keyring]\npath={keyring}\n"
            f"[slot.rootfs.0]\ndevice={self.slots['A']}\ntype=raw\nbootname=A\n"
            f"[slot.rootfs.1]\ndevice={self.slots['B']}\ntype=raw\nbootname=B\n"
        )
        self._bus: asyncio.subprocess.Process | None = None
        self.service: asyncio.subprocess.Process | None = None
        self.booted = "A"

    def bootloader_file(self, name: str) -> Path:
        """A file of the custom bootloader's state (`primary`, `state.A`, `state.B`)."""
        return self.folder / "boot" / name

    def boot(self) -> str:
        """Choose the slot to boot like the bootloader would: primary if good, else the other."""
        primary_file = self.bootloader_file("primary")
        primary = primary_file.read_text().strip() if primary_file.exists() else "A"
        state_file = self.bootloader_file(f"state.{primary}")
        good = not state_file.exists() or state_file.read_text().strip() == "good"
        self.booted = primary if good else ("B" if primary == "A" else "A")
        return self.booted

    async def start_bus(self) -> None:
        """The private system bus."""
        config = self.folder / "bus.conf"
        config.write_text(BUS_CONFIG.format(path=self.bus_path))
        self._bus = await asyncio.create_subprocess_exec(
            "dbus-daemon", f"--config-file={config}", "--nofork", "--print-address",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert self._bus.stdout is not None
        async with asyncio.timeout(10):
            await self._bus.stdout.readline()  # printed once the bus listens

    async def start_service(self) -> None:
        """`rauc service` for the booted slot; returns once it owns its bus name."""
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}
        self.service = await asyncio.create_subprocess_exec(
            "rauc", "service", f"--conf={self.conf}", f"--override-boot-slot={self.booted}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env,
        )  # fmt: skip
        await self._wait_for_name()

    async def _wait_for_name(self) -> None:
        bus = await MessageBus(bus_address=self.address, bus_type=BusType.SYSTEM).connect()
        try:
            introspection = await bus.introspect("org.freedesktop.DBus", "/org/freedesktop/DBus")
            proxy = bus.get_proxy_object("org.freedesktop.DBus", "/org/freedesktop/DBus", introspection)
            daemon = proxy.get_interface("org.freedesktop.DBus")
            owned = asyncio.Event()

            def on_owner(name: str, old: str, new: str) -> None:
                if name == "de.pengutronix.rauc" and new:
                    owned.set()

            daemon.on_name_owner_changed(on_owner)  # type: ignore[attr-defined]
            if not await daemon.call_name_has_owner("de.pengutronix.rauc"):  # type: ignore[attr-defined]
                async with asyncio.timeout(20):
                    await owned.wait()
        finally:
            bus.disconnect()

    async def kill_service(self) -> None:
        """SIGKILL the RAUC service (a power cut, from its point of view)."""
        if self.service is not None and self.service.returncode is None:
            signal_child(self.service, signal.SIGKILL)
            await self.service.wait()
        self.service = None

    async def close(self) -> None:
        """Stop the service and the bus."""
        await self.kill_service()
        if self._bus is not None and self._bus.returncode is None:
            signal_child(self._bus, signal.SIGTERM)
            with contextlib.suppress(ProcessLookupError):
                await self._bus.wait()
