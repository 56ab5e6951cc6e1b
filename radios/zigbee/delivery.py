"""Carrying out a planned command on a zigpy device, and turning zigpy's failures into CommandErrors."""

from __future__ import annotations

from typing import Any

import zigpy.application
import zigpy.device
import zigpy.exceptions
import zigpy.types as zt
import zigpy.zcl
import zigpy.zcl.foundation as foundation
from zigpy.zcl.foundation import ZCLAttributeDef

from hub_core.errors import CommandError, DeliveryFailed, DeliveryTimeout, InvalidCommand, UnknownDevice
from hub_core.model import Command
from radios.zigbee import mapping
from radios.zigbee.configure import find_cluster


async def send_requests(
    device: zigpy.device.Device, requests: list[mapping.ZclRequest], command: Command
) -> None:
    """Send each ZCL request of a plan; DeliveryFailed naming the status when the device refuses."""
    for request in requests:
        cluster = find_cluster(device, request.cluster_id)
        if request.kind == "command":
            response = await cluster.command(command_id(cluster, request.name), **request.args)
            _check_status(command, getattr(response, "status", None))
        elif request.kind == "write":
            values: dict[str | int | ZCLAttributeDef, Any] = {name: v for name, v in request.args.items()}
            result = await cluster.write_attributes(values)
            for records in result:
                for record in records if isinstance(records, list) else [records]:
                    _check_status(command, getattr(record, "status", foundation.Status.SUCCESS))
        else:
            await cluster.read_attributes(list(request.attributes))


def zigbee_device(app: zigpy.application.ControllerApplication, ieee: zt.EUI64) -> zigpy.device.Device:
    """The Zigbee device `ieee` of `app` (not a Green Power one); UnknownDevice otherwise."""
    device = app.get_device(ieee)
    if not isinstance(device, zigpy.device.Device):
        raise UnknownDevice(f"{ieee} is not a Zigbee device", device=str(ieee))
    return device


def command_id(cluster: zigpy.zcl.Cluster, name: str) -> int:
    """The id of server command `name` on `cluster`; InvalidCommand if it has none."""
    for command in cluster.server_commands.values():
        if command.name == name:
            return int(command.id)
    raise InvalidCommand(f"cluster 0x{cluster.cluster_id:04x} has no command {name!r}")


def _check_status(command: Command, status: Any) -> None:
    if status is not None and status != foundation.Status.SUCCESS:
        name = getattr(status, "name", str(status))
        raise DeliveryFailed(f"{command.device} refused {command.name!r}: {name}", device=command.device)


def as_command_error(exc: BaseException, device: str | None) -> CommandError:
    """The CommandError for a failure while talking to `device` (or the stick, when None)."""
    if isinstance(exc, CommandError):
        return exc
    who = device or "zigbee"
    if isinstance(exc, TimeoutError):
        return DeliveryTimeout(f"{who}: no response from the device", device=device)
    if isinstance(exc, zigpy.exceptions.DeliveryError):
        return DeliveryFailed(f"{who}: not delivered ({exc})", device=device)
    return DeliveryFailed(f"{who}: {exc}", device=device)
