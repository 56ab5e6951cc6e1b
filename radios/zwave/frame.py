"""Sans-I/O framing of the Z-Wave Serial API (INS12350 section 5): bytes in, events and bytes out.

Rules of this file: no I/O, no clock, no asyncio. The caller feeds received bytes with the current
monotonic time (`receive_data(data, now)`), reads `events_received()` and writes every chunk of
`data_to_send()` as its own write (the zwave-js mock parses each write as one message, so an ACK must
never be glued to a frame). The parser never raises on input: garbage, bad checksums and timeouts are
reported as events. Only `Frame.from_bytes` raises, and only ProtocolError.

A data frame is SOF LEN TYPE FUNC PAYLOAD.. CHK where LEN counts TYPE..CHK and
CHK = 0xFF xor every byte from LEN up to the last payload byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeAlias

from hub_core.errors import ProtocolError

#: INS12350 5.1: a receiver drops a frame whose bytes stop arriving for this long.
FRAME_TIMEOUT = 1.5
#: LEN covers TYPE, FUNC and CHK at least.
MIN_LENGTH = 3


class Control(IntEnum):
    """The single-byte symbols of the Serial API."""

    SOF = 0x01
    ACK = 0x06
    NAK = 0x15
    CAN = 0x18


class FrameType(IntEnum):
    """Byte 3 of a data frame."""

    REQUEST = 0x00
    RESPONSE = 0x01


def checksum(body: bytes) -> int:
    """INS12350 checksum of LEN..last payload byte."""
    value = 0xFF
    for byte in body:
        value ^= byte
    return value


@dataclass(frozen=True, slots=True)
class Frame:
    """One data frame: its type, function id and payload."""

    type: FrameType
    function: int
    payload: bytes = b""

    def to_bytes(self) -> bytes:
        """The frame on the wire, SOF to checksum."""
        if not 0 <= self.function <= 0xFF:
            raise ValueError(f"function id {self.function} out of range")
        if len(self.payload) > 0xFF - MIN_LENGTH:
            raise ValueError(f"payload of {len(self.payload)} bytes is too long for one frame")
        body = bytes((len(self.payload) + MIN_LENGTH, self.type, self.function)) + self.payload
        return bytes((Control.SOF,)) + body + bytes((checksum(body),))

    @classmethod
    def from_bytes(cls, data: bytes) -> Frame:
        """Parse exactly one whole frame; raise ProtocolError naming what is wrong."""
        if len(data) < MIN_LENGTH + 2:
            raise ProtocolError(f"frame of {len(data)} bytes is too short")
        if data[0] != Control.SOF:
            raise ProtocolError(f"frame starts with 0x{data[0]:02x}, not SOF")
        length = data[1]
        if length < MIN_LENGTH or len(data) != length + 2:
            raise ProtocolError(f"frame length byte {length} does not match {len(data)} bytes")
        expected = checksum(data[1:-1])
        if data[-1] != expected:
            raise ProtocolError(f"bad checksum 0x{data[-1]:02x}, expected 0x{expected:02x}")
        if data[2] not in (FrameType.REQUEST, FrameType.RESPONSE):
            raise ProtocolError(f"unknown frame type 0x{data[2]:02x}")
        return cls(FrameType(data[2]), data[3], bytes(data[4:-1]))

    def __repr__(self) -> str:
        kind = "REQ" if self.type is FrameType.REQUEST else "RES"
        return f"Frame({kind} 0x{self.function:02x} {self.payload.hex()})"


@dataclass(frozen=True, slots=True)
class Ack:
    """The peer accepted our last frame."""


@dataclass(frozen=True, slots=True)
class Nak:
    """The peer received our last frame damaged."""


@dataclass(frozen=True, slots=True)
class Can:
    """The peer dropped our last frame because it was sending one itself (a collision)."""


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes outside any frame, skipped while resynchronising on the next SOF or control byte."""

    data: bytes


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A complete frame that failed its checksum or has an unknown type; it was NAKed."""

    data: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class FrameTimedOut:
    """An incomplete frame whose remaining bytes did not arrive within 1500 ms; it was dropped."""

    data: bytes


FrameEvent: TypeAlias = Frame | Ack | Nak | Can | Garbage | BadFrame | FrameTimedOut

ACK_BYTES = bytes((Control.ACK,))
NAK_BYTES = bytes((Control.NAK,))
CAN_BYTES = bytes((Control.CAN,))


@dataclass(slots=True)
class SerialProtocol:
    """The byte stream of one Serial API link, in both directions, without I/O."""

    frame_timeout: float = FRAME_TIMEOUT
    _buffer: bytearray = field(default_factory=bytearray)
    _started: float = 0.0
    _garbage: bytearray = field(default_factory=bytearray)
    _events: list[FrameEvent] = field(default_factory=list)
    _outgoing: list[bytes] = field(default_factory=list)

    # --- receiving ---------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes read from the link at monotonic time `now`."""
        self.check_timeout(now)
        for byte in data:
            self._receive_byte(byte, now)
        self._flush_garbage()
        # A frame that is complete but could not be parsed yet waits for its bytes; nothing to do.

    def check_timeout(self, now: float) -> None:
        """Drop an incomplete frame that has waited longer than the frame timeout."""
        if self._buffer and now - self._started > self.frame_timeout:
            self._flush_garbage()
            self._events.append(FrameTimedOut(bytes(self._buffer)))
            self._buffer.clear()

    def deadline(self) -> float | None:
        """When `check_timeout` should next be called, or None if no frame is in progress."""
        return self._started + self.frame_timeout if self._buffer else None

    def _receive_byte(self, byte: int, now: float) -> None:
        buffer = self._buffer
        if not buffer:
            if byte == Control.SOF:
                self._flush_garbage()
                buffer.append(byte)
                self._started = now
            elif byte == Control.ACK:
                self._control(Ack())
            elif byte == Control.NAK:
                self._control(Nak())
            elif byte == Control.CAN:
                self._control(Can())
            else:
                self._garbage.append(byte)
            return
        if len(buffer) == 1 and byte < MIN_LENGTH:
            # The SOF was noise (no frame is that short); resynchronise on this very byte.
            self._garbage.append(buffer[0])
            buffer.clear()
            self._receive_byte(byte, now)
            return
        buffer.append(byte)
        if len(buffer) == buffer[1] + 2:
            self._complete(bytes(buffer))
            buffer.clear()

    def _complete(self, data: bytes) -> None:
        try:
            frame = Frame.from_bytes(data)
        except ProtocolError as exc:
            # INS12350 5.4.2: a damaged frame is answered with NAK so the sender retransmits it.
            self._events.append(BadFrame(data, str(exc)))
            self._outgoing.append(NAK_BYTES)
            return
        # INS12350 5.4.1: every good data frame is acknowledged, whether we expected it or not.
        self._outgoing.append(ACK_BYTES)
        self._events.append(frame)

    def _control(self, event: Ack | Nak | Can) -> None:
        self._flush_garbage()
        self._events.append(event)

    def _flush_garbage(self) -> None:
        if self._garbage:
            self._events.append(Garbage(bytes(self._garbage)))
            self._garbage.clear()

    def events_received(self) -> list[FrameEvent]:
        """The events parsed since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    # --- sending -----------------------------------------------------------------------------

    def send_frame(self, frame: Frame) -> None:
        """Queue a data frame for writing."""
        self._outgoing.append(frame.to_bytes())

    def send_control(self, control: Control) -> None:
        """Queue a single control byte (ACK, NAK, CAN) for writing."""
        self._outgoing.append(bytes((control,)))

    def data_to_send(self) -> list[bytes]:
        """Chunks to write, oldest first; write each as its own write."""
        chunks, self._outgoing = self._outgoing, []
        return chunks

    @property
    def in_frame(self) -> bool:
        """True while part of a frame has been received."""
        return bool(self._buffer)
