"""What a node (or one of its end points) supports, learnt in the interview, and its canonical capabilities.

Rules of this file: `NodeCapabilities` is an immutable value; `absorb(report)` returns a new one that
also knows what the report told (supported types, scales, versions, end points). It round-trips
through JSON (`to_json`/`from_json`) because the interview result is persisted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hub_core.model import ATTRIBUTES
from radios.zwave.cc.base import CCCommand, CommandClass
from radios.zwave.cc.management import (
    AssociationSupportedGroupingsReport,
    ManufacturerSpecificReport,
    VersionCommandClassReport,
    VersionReport,
    WakeUpIntervalReport,
)
from radios.zwave.cc.notification import (
    AccessControlEvent,
    HomeSecurityEvent,
    NotificationEventSupportedReport,
    NotificationReport,
    NotificationSupportedReport,
    NotificationType,
)
from radios.zwave.cc.scene import CentralSceneSupportedReport
from radios.zwave.cc.sensor import (
    BinarySensorReport,
    BinarySensorSupportedReport,
    BinarySensorType,
    ElectricScale,
    MeterReport,
    MeterSupportedReport,
    MeterType,
    MultilevelSensorReport,
    MultilevelSensorSupportedScaleReport,
    MultilevelSensorSupportedSensorReport,
    SensorType,
)
from radios.zwave.cc.thermostat import (
    SetpointType,
    ThermostatModeSupportedReport,
    ThermostatSetpointReport,
    ThermostatSetpointSupportedReport,
)
from radios.zwave.cc.transport import MultiChannelCapabilityReport, MultiChannelEndPointReport


def _merge(old: tuple[int, ...], new: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(old) | set(new)))


@dataclass(frozen=True, slots=True)
class NodeCapabilities:
    """Supported CCs with versions and what their supported-reports said; end points nest."""

    #: Supported CC -> version; 0 = listed in the node info frame, version not asked yet (treated as 1).
    ccs: Mapping[int, int] = field(default_factory=dict)
    binary_sensor_types: tuple[int, ...] = ()
    #: Multilevel sensor type -> supported scales (empty if not known).
    sensor_scales: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    #: Meter type -> supported scales.
    meter_scales: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    #: Notification type -> supported events (empty if not known).
    notification_events: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    thermostat_modes: tuple[int, ...] = ()
    setpoint_types: tuple[int, ...] = ()
    scenes: int = 0
    endpoints: Mapping[int, NodeCapabilities] = field(default_factory=dict)
    manufacturer_id: int | None = None
    product_type: int | None = None
    product_id: int | None = None
    firmware: str | None = None
    wake_up_interval: int | None = None
    association_groups: int = 0

    # --- queries ---

    def supports(self, cc: int) -> bool:
        """The CC is listed as supported."""
        return cc in self.ccs

    def version(self, cc: int) -> int:
        """The CC's version: 0 if unsupported, 1 if supported but not asked yet."""
        if cc not in self.ccs:
            return 0
        return max(1, self.ccs[cc])

    def endpoint(self, endpoint: int) -> NodeCapabilities:
        """End point `endpoint` (0 = the node itself); KeyError if the node has no such end point."""
        return self if endpoint == 0 else self.endpoints[endpoint]

    @property
    def model(self) -> str:
        """`<product type>:<product id>` in hex, or "" before Manufacturer Specific was read."""
        if self.product_type is None or self.product_id is None:
            return ""
        return f"{self.product_type:04x}:{self.product_id:04x}"

    # --- updates ---

    def with_ccs(self, ccs: Iterable[int], endpoint: int = 0) -> NodeCapabilities:
        """Add CCs from a node information frame (version unknown until asked)."""
        if endpoint:
            return self._with_endpoint(endpoint, self.endpoint_or_empty(endpoint).with_ccs(ccs))
        merged = dict(self.ccs)
        for cc in ccs:
            merged.setdefault(cc, 0)
        return replace(self, ccs=merged)

    def endpoint_or_empty(self, endpoint: int) -> NodeCapabilities:
        """End point `endpoint`, or empty capabilities if not known yet."""
        return self.endpoints.get(endpoint, NodeCapabilities())

    def _with_endpoint(self, endpoint: int, caps: NodeCapabilities) -> NodeCapabilities:
        endpoints = dict(self.endpoints)
        endpoints[endpoint] = caps
        return replace(self, endpoints=endpoints)

    def absorb(self, report: CCCommand, endpoint: int = 0) -> NodeCapabilities:
        """A copy that also knows what `report` (from `endpoint`) says; other commands change nothing."""
        if endpoint:
            return self._with_endpoint(endpoint, self.endpoint_or_empty(endpoint).absorb(report))
        match report:
            case VersionCommandClassReport(requested_cc=cc, version=version):
                ccs = dict(self.ccs)
                if version == 0:
                    ccs.pop(cc, None)
                else:
                    ccs[cc] = version
                # End points share the root's CC versions (SDS13781 Multi Channel: "same version").
                endpoints = {
                    ep: replace(c, ccs={k: (version if k == cc else v) for k, v in c.ccs.items()})
                    for ep, c in self.endpoints.items()
                }
                return replace(self, ccs=ccs, endpoints=endpoints)
            case VersionReport():
                return replace(self, firmware=report.firmware)
            case ManufacturerSpecificReport(manufacturer_id=m, product_type=t, product_id=p):
                return replace(self, manufacturer_id=m, product_type=t, product_id=p)
            case BinarySensorSupportedReport(types=types):
                return replace(self, binary_sensor_types=_merge(self.binary_sensor_types, types))
            case BinarySensorReport(sensor_type=int(t)) if t not in (0, BinarySensorType.ANY):
                return replace(self, binary_sensor_types=_merge(self.binary_sensor_types, [t]))
            case MultilevelSensorSupportedSensorReport(types=types):
                scales = dict(self.sensor_scales)
                for t in types:
                    scales.setdefault(t, ())
                return replace(self, sensor_scales=scales)
            case MultilevelSensorSupportedScaleReport(sensor_type=t, scales=s):
                return replace(self, sensor_scales={**self.sensor_scales, t: tuple(s)})
            case MultilevelSensorReport(sensor_type=t, scale=s):
                known = self.sensor_scales.get(t, ())
                return replace(self, sensor_scales={**self.sensor_scales, t: _merge(known, [s])})
            case MeterSupportedReport(meter_type=t, scales=s):
                return replace(self, meter_scales={**self.meter_scales, t: tuple(s)})
            case MeterReport(meter_type=t, scale=s):
                known = self.meter_scales.get(t, ())
                return replace(self, meter_scales={**self.meter_scales, t: _merge(known, [s])})
            case NotificationSupportedReport(types=types):
                events = dict(self.notification_events)
                for t in types:
                    events.setdefault(t, ())
                return replace(self, notification_events=events)
            case NotificationEventSupportedReport(notification_type=t, events=e):
                return replace(self, notification_events={**self.notification_events, t: tuple(e)})
            case NotificationReport(notification_type=int(t), event=int(e)) if t:
                known = self.notification_events.get(t, ())
                new = [e] if e else []
                return replace(self, notification_events={**self.notification_events, t: _merge(known, new)})
            case ThermostatModeSupportedReport(modes=modes):
                return replace(self, thermostat_modes=tuple(modes))
            case ThermostatSetpointSupportedReport(types=types):
                return replace(self, setpoint_types=tuple(types))
            case ThermostatSetpointReport(setpoint_type=t) if t:
                return replace(self, setpoint_types=_merge(self.setpoint_types, [t]))
            case CentralSceneSupportedReport(scene_count=n):
                return replace(self, scenes=n)
            case MultiChannelEndPointReport(endpoints=n):
                endpoints = {ep: self.endpoint_or_empty(ep) for ep in range(1, n + 1)}
                return replace(self, endpoints=endpoints)
            case MultiChannelCapabilityReport(endpoint=ep, ccs=ccs) if ep:
                # An end point's CCs have the root's versions where the root already knows them.
                caps = self.endpoint_or_empty(ep)
                merged = {cc: self.ccs.get(cc, caps.ccs.get(cc, 0)) for cc in ccs}
                return self._with_endpoint(ep, replace(caps, ccs=merged))
            case WakeUpIntervalReport(seconds=s):
                return replace(self, wake_up_interval=s)
            case AssociationSupportedGroupingsReport(groups=n):
                return replace(self, association_groups=n)
        return self

    # --- JSON ---

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (map keys become strings)."""
        out: dict[str, Any] = {
            "ccs": {str(k): v for k, v in sorted(self.ccs.items())},
            "binary_sensor_types": list(self.binary_sensor_types),
            "sensor_scales": {str(k): list(v) for k, v in sorted(self.sensor_scales.items())},
            "meter_scales": {str(k): list(v) for k, v in sorted(self.meter_scales.items())},
            "notification_events": {str(k): list(v) for k, v in sorted(self.notification_events.items())},
            "thermostat_modes": list(self.thermostat_modes),
            "setpoint_types": list(self.setpoint_types),
            "scenes": self.scenes,
            "endpoints": {str(k): v.to_json() for k, v in sorted(self.endpoints.items())},
            "manufacturer_id": self.manufacturer_id,
            "product_type": self.product_type,
            "product_id": self.product_id,
            "firmware": self.firmware,
            "wake_up_interval": self.wake_up_interval,
            "association_groups": self.association_groups,
        }
        return out

    @classmethod
    def from_json(cls, data: object) -> NodeCapabilities:
        """Inverse of `to_json`; raises ValueError naming the bad field."""
        if not isinstance(data, Mapping):
            raise ValueError(f"node capabilities must be an object, not {type(data).__name__}")
        try:
            return cls(
                ccs={_int(k, "ccs"): _int(v, "ccs") for k, v in _map(data, "ccs").items()},
                binary_sensor_types=_ints(data.get("binary_sensor_types", []), "binary_sensor_types"),
                sensor_scales=_int_map(data, "sensor_scales"),
                meter_scales=_int_map(data, "meter_scales"),
                notification_events=_int_map(data, "notification_events"),
                thermostat_modes=_ints(data.get("thermostat_modes", []), "thermostat_modes"),
                setpoint_types=_ints(data.get("setpoint_types", []), "setpoint_types"),
                scenes=_int(data.get("scenes", 0), "scenes"),
                endpoints={
                    _int(k, "endpoints"): cls.from_json(v) for k, v in _map(data, "endpoints").items()
                },
                manufacturer_id=_opt_int(data.get("manufacturer_id"), "manufacturer_id"),
                product_type=_opt_int(data.get("product_type"), "product_type"),
                product_id=_opt_int(data.get("product_id"), "product_id"),
                firmware=_opt_str(data.get("firmware"), "firmware"),
                wake_up_interval=_opt_int(data.get("wake_up_interval"), "wake_up_interval"),
                association_groups=_int(data.get("association_groups", 0), "association_groups"),
            )
        except RecursionError:
            raise ValueError("node capabilities nested too deep") from None


def _int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected an integer, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise ValueError(f"{name}: expected an integer, not {value!r}")


def _opt_int(value: object, name: str) -> int | None:
    return None if value is None else _int(value, name)


def _opt_str(value: object, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name}: expected a string, not {value!r}")


def _ints(value: object, name: str) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{name}: expected a list, not {value!r}")
    return tuple(_int(v, name) for v in value)


def _map(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: expected an object, not {value!r}")
    return value


def _int_map(data: Mapping[str, Any], name: str) -> dict[int, tuple[int, ...]]:
    return {_int(k, name): _ints(v, name) for k, v in _map(data, name).items()}


# --- canonical capabilities -------------------------------------------------------------------

_LOCK_EVENTS = frozenset(
    {
        AccessControlEvent.MANUAL_LOCK,
        AccessControlEvent.MANUAL_UNLOCK,
        AccessControlEvent.RF_LOCK,
        AccessControlEvent.RF_UNLOCK,
        AccessControlEvent.KEYPAD_LOCK,
        AccessControlEvent.KEYPAD_UNLOCK,
        AccessControlEvent.AUTO_LOCK,
        AccessControlEvent.LOCK_JAMMED,
    }
)
_DOOR_EVENTS = frozenset({AccessControlEvent.WINDOW_DOOR_OPEN, AccessControlEvent.WINDOW_DOOR_CLOSED})
_MOTION_EVENTS = frozenset({HomeSecurityEvent.MOTION, HomeSecurityEvent.MOTION_LOCATION})
_ORDER = {name: i for i, name in enumerate([*ATTRIBUTES, "button"])}


def notification_attributes(caps: NodeCapabilities, ntype: int) -> frozenset[str]:
    """Canonical attributes that notification type `ntype` gives this node, from its supported events."""
    if not caps.supports(CommandClass.NOTIFICATION) or ntype not in caps.notification_events:
        return frozenset()
    events = set(caps.notification_events[ntype])
    if ntype == NotificationType.WATER:
        return frozenset({"water"})
    if ntype == NotificationType.HOME_SECURITY:
        return frozenset({"motion"}) if not events or _MOTION_EVENTS & events else frozenset()
    if ntype == NotificationType.ACCESS_CONTROL:
        # Without an event list (v2), a Door Lock node's Access Control is about the lock, else the door.
        door_lock = caps.supports(CommandClass.DOOR_LOCK)
        out: set[str] = set()
        if _LOCK_EVENTS & events or (not events and door_lock):
            out.add("lock")
        if _DOOR_EVENTS & events or (not events and not door_lock):
            out.add("contact")
        return frozenset(out)
    return frozenset()


def capabilities_of(caps: NodeCapabilities) -> tuple[str, ...]:
    """Canonical capability names (CONTRACT section 4) of a node or end point, in the model's order."""
    out: set[str] = set()
    if caps.supports(CommandClass.BINARY_SWITCH):
        out.add("switch")
    if caps.supports(CommandClass.MULTILEVEL_SWITCH):
        out |= {"switch", "level"}
    binary = {
        BinarySensorType.MOTION: "motion",
        BinarySensorType.DOOR_WINDOW: "contact",
        BinarySensorType.WATER: "water",
    }
    if caps.supports(CommandClass.BINARY_SENSOR):
        out |= {binary[t] for t in caps.binary_sensor_types if t in binary}  # type: ignore[index]
    sensors = {
        SensorType.AIR_TEMPERATURE: "temperature",
        SensorType.HUMIDITY: "humidity",
        SensorType.POWER: "power",
    }
    if caps.supports(CommandClass.MULTILEVEL_SENSOR):
        out |= {sensors[t] for t in caps.sensor_scales if t in sensors}  # type: ignore[index]
        lux = caps.sensor_scales.get(SensorType.ILLUMINANCE)
        if lux is not None and (not lux or 1 in lux):  # scale 1 = lux; 0 is % we cannot convert
            out.add("illuminance")
    if caps.supports(CommandClass.METER) and MeterType.ELECTRIC in caps.meter_scales:
        scales = caps.meter_scales[MeterType.ELECTRIC] or (ElectricScale.KWH, ElectricScale.W)
        if ElectricScale.KWH in scales:
            out.add("energy")
        if ElectricScale.W in scales:
            out.add("power")
    if caps.supports(CommandClass.NOTIFICATION):
        for ntype in caps.notification_events:
            out |= notification_attributes(caps, ntype)
    if caps.supports(CommandClass.DOOR_LOCK):
        out.add("lock")
    if caps.supports(CommandClass.BATTERY):
        out.add("battery")
    if caps.supports(CommandClass.THERMOSTAT_MODE):
        out.add("thermostat_mode")
    if caps.supports(CommandClass.THERMOSTAT_SETPOINT) and (
        not caps.setpoint_types or SetpointType.HEATING in caps.setpoint_types
    ):
        out.add("heating_setpoint")
    if caps.supports(CommandClass.CENTRAL_SCENE):
        out.add("button")
    return tuple(sorted(out, key=_ORDER.__getitem__))
