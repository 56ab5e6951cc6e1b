"""Z-Wave command classes as data, and their mapping to the canonical device model.

    parse_cc(data) -> CCCommand            CC id, command id, payload -> a command (UnknownCC if not modelled)
    cmd.to_bytes()                         the inverse
    decapsulate / unwrap / encapsulate     Multi Channel end points and Supervision
    report_to_events(device, cmd, caps)    a report -> canonical DeviceEvents
    command_to_ccs(command, caps[, state]) a canonical Command -> CC commands to send (or InvalidCommand)
    interview_queries / interview_follow_ups / answers / NodeCapabilities.absorb: the interview, as data
    capabilities_of(caps)                  canonical capability names

One module per CC family: switch, sensor, notification, lock, thermostat, scene, transport, management;
the mapping to the canonical model in values, reports (-> events), actions (<- commands), interview.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub_core.errors import ProtocolError
from radios.zwave.cc.actions import command_to_ccs, state_queries
from radios.zwave.cc.base import CCCommand, CommandClass, NoOperation, UnknownCC, parse_cc, registered
from radios.zwave.cc.capabilities import NodeCapabilities, capabilities_of
from radios.zwave.cc.interview import answers, expected_response, interview_follow_ups, interview_queries
from radios.zwave.cc.lock import *  # noqa: F403
from radios.zwave.cc.management import *  # noqa: F403
from radios.zwave.cc.notification import *  # noqa: F403
from radios.zwave.cc.reports import report_to_events
from radios.zwave.cc.scene import *  # noqa: F403
from radios.zwave.cc.sensor import *  # noqa: F403
from radios.zwave.cc.switch import *  # noqa: F403
from radios.zwave.cc.thermostat import *  # noqa: F403
from radios.zwave.cc.transport import *  # noqa: F403
from radios.zwave.cc.transport import (
    MultiChannelCommandEncapsulation,
    SupervisionGet,
    SupervisionReport,
    SupervisionStatus,
)
from radios.zwave.cc.values import level_to_zwave, zwave_to_level


@dataclass(frozen=True, slots=True)
class Envelope:
    """A received command without encapsulation: source end point, command, Supervision session if any."""

    endpoint: int
    command: CCCommand
    #: Set when the sender asked for a Supervision Report; answer with `supervision_reply`.
    supervision_session: int | None = None
    #: The Supervision Get asked for status updates.
    status_updates: bool = False


def unwrap(cmd: CCCommand) -> Envelope:
    """Strip Multi Channel and Supervision encapsulation, in either order; ProtocolError if malformed."""
    endpoint = 0
    session: int | None = None
    updates = False
    for _ in range(4):
        if isinstance(cmd, MultiChannelCommandEncapsulation):
            if endpoint:
                raise ProtocolError("Multi Channel encapsulation inside Multi Channel encapsulation")
            endpoint = cmd.source
            cmd = cmd.inner
        elif isinstance(cmd, SupervisionGet):
            if session is not None:
                raise ProtocolError("Supervision Get inside Supervision Get")
            session, updates = cmd.session_id, cmd.status_updates
            cmd = cmd.inner
        else:
            break
    return Envelope(endpoint, cmd, session, updates)


def decapsulate(cmd: CCCommand) -> tuple[int, CCCommand]:
    """(source end point, inner command) through Multi Channel / Supervision."""
    envelope = unwrap(cmd)
    return envelope.endpoint, envelope.command


def encapsulate(
    cmd: CCCommand, endpoint: int = 0, supervision: bool = False, session_id: int = 0
) -> CCCommand:
    """Wrap `cmd` for end point `endpoint` (Multi Channel) and, if asked, in a Supervision Get.

    Supervision goes inside Multi Channel, as zwave-js sends it: MultiChannel(Supervision(cmd)).
    """
    if supervision:
        cmd = SupervisionGet(session_id & 0x3F, cmd)
    if endpoint:
        cmd = MultiChannelCommandEncapsulation(0, endpoint, cmd)
    return cmd


def supervision_reply(envelope: Envelope, status: int = SupervisionStatus.SUCCESS) -> CCCommand | None:
    """The Supervision Report (encapsulated back to the end point) a supervised command needs, else None."""
    if envelope.supervision_session is None:
        return None
    return encapsulate(SupervisionReport(envelope.supervision_session, status), envelope.endpoint)


__all__ = [
    "CCCommand",
    "CommandClass",
    "Envelope",
    "NoOperation",
    "NodeCapabilities",
    "UnknownCC",
    "answers",
    "capabilities_of",
    "command_to_ccs",
    "decapsulate",
    "encapsulate",
    "expected_response",
    "interview_follow_ups",
    "interview_queries",
    "level_to_zwave",
    "parse_cc",
    "registered",
    "report_to_events",
    "state_queries",
    "supervision_reply",
    "unwrap",
    "zwave_to_level",
]
