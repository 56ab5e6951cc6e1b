"""zigpy's device and cluster events, turned into canonical events (CONTRACT section 4).

The adapter attaches every interviewed device here: attribute reports and reads become
`StateChanged`, remote-control and IAS zone commands become `ButtonPressed`/`StateChanged`, any
frame heard feeds availability. The hub holds state reports that come before a device's
`DeviceAdded`, so nothing here waits for the announcement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zigpy.device
import zigpy.types as zt
import zigpy.zcl

from hub_core.model import ButtonPressed, DeviceId, DeviceOnline, StateChanged, zigbee_device_id
from radios.base import EventSink
from radios.zigbee import mapping
from radios.zigbee.availability import AvailabilityTracker
from radios.zigbee.configure import cache_of, shape_of
from radios.zigbee.mapping import ClusterId

log = logging.getLogger(__name__)

_HEX = frozenset("0123456789abcdef")
#: zigpy's cluster events that carry an attribute value (a report, a read, a quirk's update)
_ATTRIBUTE_EVENTS = frozenset({"attribute_report", "attribute_read", "attribute_updated"})
#: server clusters with an attribute the mapping turns into state
_MAPPED_CLUSTERS = frozenset({cluster_id for cluster_id, _ in mapping.ATTRIBUTE_MAP} | {ClusterId.IAS_ZONE})


def device_id_of(ieee: zt.EUI64) -> DeviceId:
    """`zigbee-<16 hex>` for a zigpy IEEE address."""
    return zigbee_device_id(str(ieee))


def ieee_of(device: str) -> zt.EUI64:
    """The zigpy IEEE address in a `zigbee-...` device id; ValueError if it is not one."""
    hexdigits = device.removeprefix("zigbee-")
    if not device.startswith("zigbee-") or len(hexdigits) != 16 or not set(hexdigits) <= _HEX:
        raise ValueError(f"{device!r} is not a Zigbee device id (zigbee-<16 lowercase hex digits>)")
    ieee: zt.EUI64 = zt.EUI64.convert(":".join(hexdigits[i : i + 2] for i in range(0, 16, 2)))
    return ieee


class _ClusterListener:
    """zigpy's legacy cluster command events (remote buttons, IAS zone notifications)."""

    def __init__(self, events: DeviceEvents, ieee: zt.EUI64, cluster: zigpy.zcl.Cluster) -> None:
        self._events = events
        self._ieee = ieee
        self._cluster = cluster

    def cluster_command(self, tsn: int, command_id: int, args: Any) -> None:
        self._events.on_cluster_command(self._ieee, self._cluster, command_id, args)


@dataclass(slots=True)
class _Attached:
    """What we hooked into one zigpy device, so it can be unhooked."""

    unsubscribe: list[Callable[[], None]] = field(default_factory=list)
    last_held: int = 1


class DeviceEvents:
    """Hooks zigpy devices and emits their canonical events; tracks availability."""

    def __init__(self, emit: EventSink, clock: Callable[[], float]) -> None:
        self._emit = emit
        self._clock = clock
        self.availability = AvailabilityTracker()
        self._attached: dict[zt.EUI64, _Attached] = {}

    def __contains__(self, ieee: zt.EUI64) -> bool:
        return ieee in self._attached

    def attach(self, device: zigpy.device.Device) -> None:
        """Listen to `device`'s clusters (again, replacing earlier hooks) and track its availability."""
        self.detach(device.ieee)
        attached = _Attached()
        for ep in device.non_zdo_endpoints:
            for cluster in ep.in_clusters.values():
                if cluster.cluster_id in _MAPPED_CLUSTERS:
                    # One listener for the three attribute events (zigpy emits exactly one of them
                    # per value), and none on clusters the mapping ignores: this hook was a third of
                    # the memory a joined device cost (about 20 of 65 KiB).
                    attached.unsubscribe.append(
                        cluster.on_all_events(
                            self._attribute_handler(device.ieee, cluster), with_context=True
                        )
                    )
                if cluster.cluster_id == ClusterId.IAS_ZONE:
                    attached.unsubscribe.append(
                        self._listen(cluster, _ClusterListener(self, device.ieee, cluster))
                    )
            for cluster in ep.out_clusters.values():
                if cluster.cluster_id in (ClusterId.ON_OFF, ClusterId.LEVEL_CONTROL):
                    attached.unsubscribe.append(
                        self._listen(cluster, _ClusterListener(self, device.ieee, cluster))
                    )
        self._attached[device.ieee] = attached
        self.track(device)

    def track(self, device: zigpy.device.Device) -> None:
        """(Re)start tracking `device`'s availability from its reporting intervals."""
        interval = mapping.expected_interval(shape_of(device))
        self.availability.track(device_id_of(device.ieee), interval, self._clock())

    def detach(self, ieee: zt.EUI64) -> bool:
        """Stop listening to a device; False if it was not attached."""
        attached = self._attached.pop(ieee, None)
        if attached is None:
            return False
        for unsubscribe in attached.unsubscribe:
            unsubscribe()
        return True

    def detach_all(self) -> None:
        """Stop listening to every device (the application is going away)."""
        for ieee in list(self._attached):
            self.detach(ieee)

    @staticmethod
    def _listen(cluster: zigpy.zcl.Cluster, listener: _ClusterListener) -> Callable[[], None]:
        cluster.add_listener(listener)
        return lambda: cluster.remove_listener(listener)

    def _attribute_handler(self, ieee: zt.EUI64, cluster: zigpy.zcl.Cluster) -> Callable[[str, Any], None]:
        def handler(event_name: str, event: Any) -> None:
            if event_name not in _ATTRIBUTE_EVENTS:
                return
            name = getattr(event, "attribute_name", None)
            value = getattr(event, "value", None)
            mapped = mapping.convert(cluster.cluster_id, name, value, cache_of(cluster))
            if mapped is not None:
                self._emit(StateChanged(device_id_of(ieee), mapped[0], mapped[1]))

        return handler

    def on_cluster_command(
        self, ieee: zt.EUI64, cluster: zigpy.zcl.Cluster, command_id: int, args: Any
    ) -> None:
        """A remote's command or an IAS zone notification from `ieee`."""
        device = device_id_of(ieee)
        try:
            if int(cluster.cluster_id) == ClusterId.IAS_ZONE:
                if command_id == 0x00:  # Zone Status Change Notification, ZCL 8.2.2.4.1
                    zone = mapping.zone_state(
                        cache_of(cluster).get("zone_type"), getattr(args, "zone_status", None)
                    )
                    if zone is not None:
                        self._emit(StateChanged(device, zone[0], zone[1]))
                return
            command = cluster.server_commands[command_id].name
        except (KeyError, AttributeError):
            log.debug("ignoring unknown command 0x%02x from %s", command_id, device)
            return
        attached = self._attached.get(ieee)
        last_held = attached.last_held if attached is not None else 1
        event = mapping.button_event(cluster.cluster_id, command, args, last_held)
        if event is None:
            return
        if attached is not None and event[1] == "held":
            attached.last_held = event[0]
        self._emit(ButtonPressed(device, event[0], event[1]))

    def heard(self, ieee: zt.EUI64) -> None:
        """Any frame from `ieee`: a device that was offline is back."""
        if ieee not in self._attached:
            return
        device_id = device_id_of(ieee)
        if self.availability.heard(device_id, self._clock()):
            self._emit(DeviceOnline(device_id, True))

    def left(self, ieee: zt.EUI64) -> None:
        """`ieee` left the network on its own: offline until it is heard again."""
        device_id = device_id_of(ieee)
        if ieee in self._attached and self.availability.lost(device_id):
            self._emit(DeviceOnline(device_id, False))

    def check_availability(self) -> list[DeviceId]:
        """Mark devices silent for too long offline (emits DeviceOnline(False)); returns them."""
        gone = [DeviceId(d) for d in self.availability.check(self._clock())]
        for device in gone:
            log.info("%s not heard from within its reporting interval; offline", device)
            self._emit(DeviceOnline(device, False))
        return gone
