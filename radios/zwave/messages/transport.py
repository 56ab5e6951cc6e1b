"""Moving command class bytes: SendData (+ callback), SendDataAbort, ApplicationCommandHandler."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, Self

from radios.zwave.frame import FrameType
from radios.zwave.messages.base import FunctionId, Message, Request, incoming, outgoing
from radios.zwave.schema import U8, U16, Bool, Data, Enum, Optional, UInt
from radios.zwave.transaction import Completion


class TransmitOptions(IntFlag):
    """SendData TxOptions."""

    ACK = 0x01
    LOW_POWER = 0x02
    AUTO_ROUTE = 0x04
    NO_ROUTE = 0x10
    EXPLORE = 0x20

    @classmethod
    def default(cls) -> TransmitOptions:
        """What a hub normally wants: acknowledged, auto-routed, explorer frames allowed."""
        return cls.ACK | cls.AUTO_ROUTE | cls.EXPLORE


class TransmitStatus(IntEnum):
    """SendData callback TxStatus."""

    OK = 0x00
    NO_ACK = 0x01
    FAIL = 0x02
    ROUTING_NOT_IDLE = 0x03
    NO_ROUTE = 0x04
    VERIFIED = 0x05


@outgoing
@dataclass(frozen=True, slots=True)
class SendDataRequest(Request):
    """Send command class bytes to a node; the callback says whether the node acknowledged them."""

    function: ClassVar[FunctionId] = FunctionId.SEND_DATA
    expects_response: ClassVar[bool] = True
    node_id: int
    data: bytes
    options: TransmitOptions = TransmitOptions.ACK | TransmitOptions.AUTO_ROUTE | TransmitOptions.EXPLORE
    session_id: int = 0

    @property
    def wants_callback(self) -> bool:
        return True

    @property
    def callback_id(self) -> int | None:
        return self.session_id or None

    def with_callback_id(self, callback_id: int) -> Self:
        return dataclasses.replace(self, session_id=callback_id)

    schema = (U8("node_id"), Data("data"), Enum("options", TransmitOptions), U8("session_id"))


@incoming
@dataclass(frozen=True, slots=True)
class SendDataResponse(Message):
    """Whether the controller queued the SendData."""

    function: ClassVar[FunctionId] = FunctionId.SEND_DATA
    frame_type: ClassVar[FrameType] = FrameType.RESPONSE
    accepted: bool

    schema = (Bool("accepted"),)


@incoming
@dataclass(frozen=True, slots=True)
class SendDataCallback(Message):
    """The outcome of a SendData: TxStatus and (700+ series) the transmit time in ticks."""

    function: ClassVar[FunctionId] = FunctionId.SEND_DATA
    session_id: int
    status: TransmitStatus
    tx_ticks: int = 0

    schema = (U8("session_id"), Enum("status", TransmitStatus, "TxStatus"), Optional(U16("tx_ticks")))


@outgoing
@dataclass(frozen=True, slots=True)
class SendDataAbortRequest(Request):
    """Abort the SendData in progress (the controller then sends its callback with a failure)."""

    function: ClassVar[FunctionId] = FunctionId.SEND_DATA_ABORT

    @property
    def completion(self) -> Completion:
        """The aborted SendData's late callback (none if the stick had nothing in progress)."""
        return Completion(FunctionId.SEND_DATA, (b"",))


@incoming
@dataclass(frozen=True, slots=True)
class ApplicationCommandHandler(Message):
    """Unsolicited: a node sent command class bytes to us."""

    function: ClassVar[FunctionId] = FunctionId.APPLICATION_COMMAND_HANDLER
    status: int
    node_id: int
    data: bytes
    rssi: int | None = None

    schema = (
        U8("status"),
        U8("node_id"),
        Data("data", nonempty=True),
        Optional(UInt("rssi", signed=True)),
    )
