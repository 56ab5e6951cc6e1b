"""What follows zigpy's interview: bind, configure reporting, enroll IAS zones, read the state.

zigpy interviews a device (descriptors, Basic cluster) but leaves binding and reporting to the
application, as ZHA does. This module does that for the clusters `mapping` knows, and gives the
adapter a `DeviceShape` of any zigpy device.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import zigpy.device
import zigpy.types as zt
import zigpy.zcl
from zigpy.zcl.helpers import ReportingConfig

from hub_core.errors import InvalidCommand
from hub_core.model import Command, zigbee_device_id
from radios.zigbee import mapping
from radios.zigbee.mapping import ClusterId, DeviceShape

log = logging.getLogger(__name__)

_IAS_ENROLL_SUCCESS = 0x00  # ZCL 8.2.2.3.1
_IAS_ZONE_ID = 1


async def configure_device(device: zigpy.device.Device, coordinator: zt.EUI64) -> None:
    """Read static attributes, bind, configure reporting, enroll IAS zones, bind remotes, read state.

    A cluster that refuses is logged and skipped: the device is still usable with what worked.
    """
    device_id = zigbee_device_id(str(device.ieee))
    for ep in device.non_zdo_endpoints:
        for cluster in ep.in_clusters.values():
            cid = cluster.cluster_id
            try:
                statics = mapping.STATIC_ATTRIBUTES.get(cid, ())
                if statics:
                    await cluster.read_attributes(list(statics))
                reports = mapping.REPORTING.get(cid, ())
                if reports or cid == ClusterId.IAS_ZONE:
                    await cluster.bind()
                if reports:
                    await cluster.configure_reporting_multiple(
                        {
                            cluster.find_attribute(r.attribute): ReportingConfig(
                                r.min_interval, r.max_interval, r.change
                            )
                            for r in reports
                        }
                    )
                if cid == ClusterId.IAS_ZONE:
                    # ZCL 8.2.2.2.2: the zone reports to the CIE whose address it holds.
                    await cluster.write_attributes({"cie_addr": coordinator})
                    await cluster.enroll_response(_IAS_ENROLL_SUCCESS, _IAS_ZONE_ID)
                if cid == ClusterId.BASIC:
                    await cluster.read_attributes(["location_desc"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one stubborn cluster must not lose the whole device
                log.warning("%s: configuring cluster 0x%04x failed: %r", device_id, cid, exc)
        for cluster in ep.out_clusters.values():
            if cluster.cluster_id in (ClusterId.ON_OFF, ClusterId.LEVEL_CONTROL):
                try:
                    # A remote sends its commands to the devices its output clusters are bound to.
                    await cluster.bind()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a remote we cannot bind still works for commands
                    log.warning("%s: binding 0x%04x failed: %r", device_id, cluster.cluster_id, exc)
    for request in mapping.plan(Command(device_id, "refresh"), shape_of(device)):
        cluster = find_cluster(device, request.cluster_id)
        try:
            await cluster.read_attributes(list(request.attributes))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the device is announced with what we could read
            log.warning("%s: reading 0x%04x failed: %r", device_id, request.cluster_id, exc)


def shape_of(device: zigpy.device.Device) -> DeviceShape:
    """The mapping's view of a zigpy device: server clusters with cached values, client cluster ids."""
    server: dict[int, dict[str, Any]] = {}
    client: set[int] = set()
    for ep in device.non_zdo_endpoints:
        for cid, cluster in ep.in_clusters.items():
            server.setdefault(cid, cache_of(cluster))
        client.update(ep.out_clusters)
    return DeviceShape(server, frozenset(client))


def cache_of(cluster: zigpy.zcl.Cluster) -> dict[str, Any]:
    """zigpy's cached values of the attributes the mapping uses on this cluster."""
    names = [r.attribute for r in mapping.REPORTING.get(cluster.cluster_id, ())]
    names += mapping.STATIC_ATTRIBUTES.get(cluster.cluster_id, ())
    if int(cluster.cluster_id) == ClusterId.BASIC:
        names.append("location_desc")
    out = {}
    for name in names:
        try:
            value = cluster.get(name)
        except (KeyError, ValueError):
            continue
        if value is not None:
            out[name] = value
    return out


def cluster_or_none(device: zigpy.device.Device, cluster_id: int) -> zigpy.zcl.Cluster | None:
    """The first server cluster with this id on any endpoint, or None."""
    for ep in device.non_zdo_endpoints:
        if cluster_id in ep.in_clusters:
            cluster: zigpy.zcl.Cluster = ep.in_clusters[cluster_id]
            return cluster
    return None


def find_cluster(device: zigpy.device.Device, cluster_id: int) -> zigpy.zcl.Cluster:
    """The first server cluster with this id; InvalidCommand naming the device if there is none."""
    cluster = cluster_or_none(device, cluster_id)
    if cluster is None:
        raise InvalidCommand(f"{zigbee_device_id(str(device.ieee))} has no cluster 0x{cluster_id:04x}")
    return cluster
