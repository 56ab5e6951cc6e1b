"""Building blocks of the simulated Zigbee devices: cluster state, endpoints, ZCL parsing, addresses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import zigpy.profiles.zha as zha
import zigpy.types as _t
import zigpy.zcl
import zigpy.zcl.foundation as _foundation
import zigpy.zdo as _zdo
import zigpy.zdo.types as _zdo_t
from zigpy.types import EUI64
from zigpy.zcl.clusters import (
    closures,
    general,
    homeautomation,
    hvac,
    lighting,
    measurement,
    security,
    smartenergy,
)

# zigpy's types are only partly annotated (many constructors are untyped), so we reach them through
# Any-typed aliases: mypy --strict still checks our own code, without a blanket ignore.
t: Any = _t
foundation: Any = _foundation
zdo: Any = _zdo
zdo_t: Any = _zdo_t

ZDO_ENDPOINT = 0
COORDINATOR_NWK = t.NWK(0x0000)


@dataclass(slots=True)
class SimCluster:
    """A server cluster on a simulated endpoint: its zigpy class and raw ZCL attribute values."""

    cls: type[zigpy.zcl.Cluster]
    attributes: dict[int, Any] = field(default_factory=dict)
    #: attribute id -> (min interval, max interval), set by Configure Reporting
    reporting: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass(slots=True)
class SimEndpoint:
    """One application endpoint: its simple descriptor and cluster state."""

    id: int
    device_type: int
    server: dict[int, SimCluster]
    client: tuple[int, ...] = ()
    profile: int = zha.PROFILE_ID
    groups: set[int] = field(default_factory=set)

    def descriptor(self) -> Any:
        """The ZDO simple descriptor of this endpoint."""
        return zdo_t.SizePrefixedSimpleDescriptor(
            endpoint=self.id,
            profile=self.profile,
            device_type=self.device_type,
            device_version=1,
            input_clusters=list(self.server),
            output_clusters=list(self.client),
        )


def cluster_class(cluster_id: int) -> type[zigpy.zcl.Cluster]:
    """zigpy's cluster class for `cluster_id`; KeyError if zigpy has none."""
    cls: type[zigpy.zcl.Cluster] | None = zigpy.zcl.Cluster._registry.get(cluster_id)
    if cls is None:
        raise KeyError(f"no zigpy cluster 0x{cluster_id:04x}")
    return cls


def parse_zcl(cluster_id: int, data: bytes, *, to_server: bool) -> tuple[Any, Any]:
    """Parse a ZCL frame with zigpy's schemas; raise ValueError/KeyError if malformed."""
    hdr, rest = foundation.ZCLHeader.deserialize(data)
    if hdr.frame_control.is_general:
        schema = foundation.GENERAL_COMMANDS[hdr.command_id].schema
    else:
        cls = cluster_class(cluster_id)
        commands = cls.server_commands if to_server else cls.client_commands
        schema = commands[hdr.command_id].schema
    command, _ = schema.deserialize(rest)
    return hdr, command


def type_value(cls: type[zigpy.zcl.Cluster], attrid: int, value: Any) -> Any:
    """`value` as the ZCL TypeValue of attribute `attrid` of `cls`."""
    attr = cls.attributes[attrid]
    return foundation.TypeValue(type=attr.zcl_type, value=attr.type(value))


def eui64(text: str) -> EUI64:
    """Parse `00:15:8d:..`, `00158d...` or a hub device id `zigbee-00158d...` into an EUI64."""
    text = text.removeprefix("zigbee-").replace("-", "").replace(":", "")
    if len(text) != 16:
        raise ValueError(f"not an IEEE address: {text!r}")
    ieee: EUI64 = t.EUI64.convert(":".join(text[i : i + 2] for i in range(0, 16, 2)))
    return ieee


# Clusters the household uses, re-exported so its module stays short.
CLUSTERS = (closures, general, homeautomation, hvac, lighting, measurement, security, smartenergy)
