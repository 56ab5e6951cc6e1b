"""Z-Stack Monitor and Test (MT) framing: SOF 0xFE, length, cmd0, cmd1, payload, FCS.

cmd0 carries the command type (top 3 bits) and the subsystem (low 5 bits); cmd1 is the command id
within the subsystem. The FCS is the XOR of the length, cmd0, cmd1 and payload bytes. A payload is at
most 250 bytes (the length is one byte and Z-Stack's MT buffers stop there).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

SOF = 0xFE
MAX_PAYLOAD = 250
#: bytes buffered while looking for a whole frame; more than a frame's worth means junk
MAX_BUFFER = 2 * (MAX_PAYLOAD + 5)


class CommandType(IntEnum):
    """The top three bits of cmd0."""

    POLL = 0
    SREQ = 1
    AREQ = 2
    SRSP = 3


class Subsystem(IntEnum):
    """The low five bits of cmd0."""

    RPC_ERROR = 0x00
    SYS = 0x01
    MAC = 0x02
    NWK = 0x03
    AF = 0x04
    ZDO = 0x05
    SAPI = 0x06
    UTIL = 0x07
    DEBUG = 0x08
    APP = 0x09
    APP_CNF = 0x0F
    ZGP = 0x15


class FrameError(ValueError):
    """A frame that cannot be encoded (payload too long, field out of range)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One MT command: type, subsystem, command id and raw payload."""

    type: int
    subsystem: int
    command: int
    payload: bytes = b""

    @property
    def cmd0(self) -> int:
        """The first command byte: type << 5 | subsystem."""
        return (self.type << 5) | self.subsystem

    def encode(self) -> bytes:
        """The frame on the wire; FrameError if it cannot be sent."""
        if len(self.payload) > MAX_PAYLOAD:
            raise FrameError(f"MT payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD}")
        if not 0 <= self.type <= 7 or not 0 <= self.subsystem <= 0x1F or not 0 <= self.command <= 0xFF:
            raise FrameError(
                f"bad MT header: type {self.type}, subsystem {self.subsystem}, id {self.command}"
            )
        body = bytes([len(self.payload), self.cmd0, self.command]) + self.payload
        return bytes([SOF]) + body + bytes([fcs(body)])

    def __str__(self) -> str:
        try:
            kind = CommandType(self.type).name
        except ValueError:
            kind = str(self.type)
        try:
            sub = Subsystem(self.subsystem).name
        except ValueError:
            sub = f"0x{self.subsystem:02x}"
        return f"{kind} {sub} 0x{self.command:02x} [{self.payload.hex()}]"


def fcs(body: bytes) -> int:
    """The XOR checksum of `body` (length, cmd0, cmd1, payload)."""
    value = 0
    for byte in body:
        value ^= byte
    return value


class FrameParser:
    """Turns a byte stream into frames; skips junk and frames with a bad checksum (counted)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.bad_frames = 0
        self.skipped_bytes = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return the whole frames they complete, in order."""
        self._buffer += data
        frames: list[Frame] = []
        while True:
            start = self._buffer.find(SOF)
            if start < 0:
                self.skipped_bytes += len(self._buffer)
                self._buffer.clear()
                break
            if start:
                self.skipped_bytes += start
                del self._buffer[:start]
            if len(self._buffer) < 2:
                break
            length = self._buffer[1]
            if length > MAX_PAYLOAD:
                # Not a real length: this SOF was payload junk. Resynchronise on the next one.
                self.skipped_bytes += 1
                del self._buffer[:1]
                continue
            end = 1 + 3 + length + 1
            if len(self._buffer) < end:
                break
            body = bytes(self._buffer[1 : end - 1])
            if fcs(body) != self._buffer[end - 1]:
                self.bad_frames += 1
                del self._buffer[:1]
                continue
            del self._buffer[:end]
            frames.append(Frame(body[1] >> 5, body[1] & 0x1F, body[2], body[3:]))
        if len(self._buffer) > MAX_BUFFER:  # pragma: no cover - unreachable: a length byte caps a frame
            self.skipped_bytes += len(self._buffer)
            self._buffer.clear()
        return frames
