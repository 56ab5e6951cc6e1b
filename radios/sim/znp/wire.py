"""Little-endian field reading and writing for MT payloads (every MT integer is little-endian)."""

from __future__ import annotations

import struct


class PayloadError(ValueError):
    """A request payload is shorter than its command's fields, or a field is out of range."""


class Reader:
    """Reads MT fields off a payload in order; PayloadError when it runs short."""

    def __init__(self, payload: bytes) -> None:
        self._data = payload
        self._pos = 0

    def _take(self, size: int) -> bytes:
        if self._pos + size > len(self._data):
            raise PayloadError(f"payload ends at byte {len(self._data)}, field needs {self._pos + size}")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def u8(self) -> int:
        """One unsigned byte."""
        return self._take(1)[0]

    def i8(self) -> int:
        """One signed byte."""
        value: int = struct.unpack("<b", self._take(1))[0]
        return value

    def u16(self) -> int:
        """An unsigned 16-bit integer."""
        value: int = struct.unpack("<H", self._take(2))[0]
        return value

    def u32(self) -> int:
        """An unsigned 32-bit integer."""
        value: int = struct.unpack("<I", self._take(4))[0]
        return value

    def raw(self, size: int) -> bytes:
        """`size` bytes as they are."""
        return self._take(size)

    def short_bytes(self) -> bytes:
        """A one-byte length, then that many bytes."""
        return self._take(self.u8())

    def long_bytes(self) -> bytes:
        """A two-byte length, then that many bytes."""
        return self._take(self.u16())

    def u16_list(self) -> list[int]:
        """A one-byte count, then that many 16-bit integers (cluster lists)."""
        return [self.u16() for _ in range(self.u8())]

    def rest(self) -> bytes:
        """Everything left."""
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk


def u8(value: int) -> bytes:
    """One unsigned byte."""
    return struct.pack("<B", value)


def i8(value: int) -> bytes:
    """One signed byte."""
    return struct.pack("<b", value)


def u16(value: int) -> bytes:
    """An unsigned 16-bit integer."""
    return struct.pack("<H", value)


def u32(value: int) -> bytes:
    """An unsigned 32-bit integer."""
    return struct.pack("<I", value)


def short_bytes(value: bytes) -> bytes:
    """A one-byte length, then the bytes."""
    if len(value) > 0xFF:
        raise PayloadError(f"{len(value)} bytes do not fit a one-byte length")
    return u8(len(value)) + value
