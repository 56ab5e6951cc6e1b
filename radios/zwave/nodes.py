"""The node registry: which nodes the network has, which the hub was told about, and their file.

Rules of this file: this is the one place that turns node records and their reports into events
(`DeviceAdded`, `DeviceRemoved`, `DeviceOnline`, mapped reports) and the only writer of the node
file. It holds no device state (the hub does) and sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from hub_core.errors import ProtocolError
from hub_core.model import Device, DeviceAdded, DeviceId, DeviceOnline, DeviceRemoved, Protocol
from radios.base import RadioContext
from radios.zwave.cc import CCCommand, capabilities_of, report_to_events
from radios.zwave.node import NodeRecord, NodeStore

log = logging.getLogger(__name__)

GENERIC_NAMES = {
    0x07: "sensor",
    0x08: "thermostat",
    0x10: "switch",
    0x11: "dimmer",
    0x18: "remote",
    0x20: "binary sensor",
    0x21: "multisensor",
    0x31: "meter",
    0x40: "door lock",
}
MANUFACTURERS = {
    0x0086: "Aeotec",
    0x0090: "Kwikset",
    0x010F: "Fibaro",
    0x0190: "Adax",
    0x0000: "Silicon Labs",
}

Describer = Callable[[NodeRecord, int], Device]


def parse_device_id(device: str) -> tuple[int, int]:
    """`zwave-<node>[-<endpoint>]` -> (node, endpoint); ValueError if malformed."""
    parts = device.split("-")
    if parts[0] != "zwave" or len(parts) not in (2, 3):
        raise ValueError(f"not a Z-Wave device id: {device!r}")
    node = int(parts[1])
    endpoint = int(parts[2]) if len(parts) == 3 else 0
    if not 1 <= node <= 232 or not 0 <= endpoint <= 127:
        raise ValueError(f"Z-Wave device id out of range: {device!r}")
    return node, endpoint


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What a (re)connect found: interviewed nodes to refresh, nodes still to set up."""

    refresh: list[NodeRecord]
    setup: list[NodeRecord]


class NodeRegistry:
    """Node records of the current network, announcement and availability, persistence."""

    def __init__(self, ctx: RadioContext) -> None:
        self.ctx = ctx
        self.records: dict[int, NodeRecord] = {}
        #: How a node's end point is shown to the hub (the simulation names its devices).
        self.describe: Describer = self.describe_device
        #: Called with a node id when the node is forgotten (its wake-up queue goes with it).
        self.on_forget: list[Callable[[int], None]] = []
        self._store: NodeStore | None = None
        self._announced: set[int] = set()
        self._offline: set[int] = set()
        self._persist_lock = asyncio.Lock()

    def get(self, node_id: int) -> NodeRecord | None:
        """The record of `node_id`, if the network has it."""
        return self.records.get(node_id)

    async def reconcile(self, home_id: int, node_ids: tuple[int, ...] | list[int]) -> Reconciled:
        """Match the stick's node list with what we knew (memory, then the file of this home id)."""
        store = NodeStore(self.ctx.data_dir, home_id)
        stored: dict[int, NodeRecord] = {}
        if self._store is None or self._store.path != store.path:
            # First start, or another stick (another network): what we knew is on disk, per home id.
            self._store = store
            stored = await asyncio.to_thread(store.load)
            self.records = {}
            self._announced.clear()
        present = set(node_ids)
        first_contact = bool(stored) or not self.records
        for node_id in sorted(present):
            self.records[node_id] = self.records.get(node_id) or stored.get(node_id) or NodeRecord(node_id)
        for node_id in sorted(set(self.records) - present):
            self.forget(node_id)  # excluded or reset while we were away: the network no longer has it
        if first_contact:
            self._forget_known_absent(present)
        refresh, setup = [], []
        for node_id in sorted(present):
            record = self.records[node_id]
            if not record.interviewed:
                setup.append(record)
                continue
            if node_id not in self._announced:
                self.announce(record)
            if not record.sleeping:
                refresh.append(record)
        return Reconciled(refresh, setup)

    def add(self, node_id: int) -> NodeRecord:
        """A node that just joined: a fresh record (a re-included node id starts afresh)."""
        self.forget(node_id)
        record = self.records[node_id] = NodeRecord(node_id)
        return record

    def describe_device(self, record: NodeRecord, endpoint: int) -> Device:
        """The canonical device of one end point (name from the hub if it knows the device)."""
        device = record.device_id(endpoint)
        known = self.ctx.known_devices.get(device)
        kind = GENERIC_NAMES.get(record.generic, "device")
        name = known.name if known is not None else f"Z-Wave {kind} {record.node_id}"
        if endpoint and known is None:
            name += f" end point {endpoint}"
        manufacturer_id = record.caps.manufacturer_id
        manufacturer = (
            MANUFACTURERS.get(manufacturer_id, f"0x{manufacturer_id:04x}")
            if manufacturer_id is not None
            else ""
        )
        return Device(
            id=device,
            protocol=Protocol.ZWAVE,
            name=name,
            manufacturer=manufacturer,
            model=record.caps.model,
            online=record.node_id not in self._offline,
            capabilities=capabilities_of(record.caps.endpoint(endpoint)),
        )

    def announce(self, record: NodeRecord) -> None:
        """DeviceAdded for the node and each end point (reports before it are held by the hub)."""
        self._announced.add(record.node_id)
        for endpoint in (0, *sorted(record.caps.endpoints)):
            self.ctx.emit(DeviceAdded(self.describe(record, endpoint)))

    def forget(self, node_id: int) -> None:
        """Drop the node; DeviceRemoved for each of its devices the hub was told about."""
        record = self.records.pop(node_id, None)
        self._offline.discard(node_id)
        for listener in self.on_forget:
            listener(node_id)
        ids = record.device_ids() if record is not None else [DeviceId(f"zwave-{node_id}")]
        was_announced = node_id in self._announced or any(d in self.ctx.known_devices for d in ids)
        self._announced.discard(node_id)
        if was_announced:
            for device in ids:
                self.ctx.emit(DeviceRemoved(device))

    def _forget_known_absent(self, present: set[int]) -> None:
        """Devices the hub remembers on nodes this network no longer has are removed."""
        for device in sorted(self.ctx.known_devices):
            if self.ctx.known_devices[device].protocol is not Protocol.ZWAVE:
                continue
            try:
                node_id, _ = parse_device_id(device)
            except ValueError:
                continue
            if node_id not in present:
                log.info("zwave: %s is no longer in the network", device)
                self.ctx.emit(DeviceRemoved(device))

    def report(self, record: NodeRecord, endpoint: int, command: CCCommand) -> None:
        """Emit the canonical events of a report (before the node's DeviceAdded, the hub holds them)."""
        try:
            caps = record.caps.endpoint(endpoint)
        except KeyError:
            caps = record.caps
        device = record.device_id(endpoint)
        try:
            events = report_to_events(device, command, caps)
        except (ProtocolError, ValueError) as exc:
            log.warning("zwave: cannot map %r from %s: %s", command, device, exc)
            return
        for event in events:
            self.ctx.emit(event)

    def heard(self, node_id: int) -> None:
        """The node answered or spoke: back online if it was not."""
        if node_id not in self._offline:
            return
        self._offline.discard(node_id)
        record = self.records.get(node_id)
        if record is not None and node_id in self._announced:
            for device in record.device_ids():
                self.ctx.emit(DeviceOnline(device, True))

    def silent(self, node_id: int) -> None:
        """A listening node did not acknowledge: offline until it is heard again."""
        record = self.records.get(node_id)
        if record is None or record.sleeping or node_id in self._offline:
            return
        self._offline.add(node_id)
        if node_id in self._announced:
            for device in record.device_ids():
                self.ctx.emit(DeviceOnline(device, False))

    async def persist(self) -> None:
        """Write every interviewed record; one writer at a time, the last write wins, whole."""
        async with self._persist_lock:
            if self._store is not None:
                records = {
                    n: NodeRecord.from_json(r.to_json()) for n, r in self.records.items() if r.interviewed
                }
                await asyncio.to_thread(self._store.save, records)
