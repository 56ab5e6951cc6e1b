"""Field schemas for Serial API messages and CC commands: declared once, read and written by one codec.

Rules of this file: no I/O. A class lists its wire layout as `schema = (Field, ...)`, in wire order;
`decode(cls, payload)` reads them into the constructor's keyword arguments and `encode(obj)` writes
them back. Attribute names are the constructor's, so a field may fill several attributes (bits of one
byte) and the wire order need not follow the constructor's. Reading raises only `ProtocolError`
(naming the class and what was missing); writing raises `ValueError` for an out-of-range attribute
(a programming error). Bytes after the declared fields are ignored (SDS13781 forward compatibility).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from hub_core.errors import ProtocolError


class Reader:
    """A payload being read front to back; `what` names the class in errors."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self.data) - self.pos

    def take(self, n: int, field: str) -> bytes:
        """The next `n` bytes; ProtocolError if fewer are left."""
        if n > self.remaining:
            raise ProtocolError(
                f"{self.what}: needs {self.pos + n} payload bytes for {field}, "
                f"got {len(self.data)} ({self.data.hex() or 'none'})"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self, field: str) -> int:
        """The next byte."""
        return self.take(1, field)[0]

    def rest(self) -> bytes:
        """Every byte not read yet."""
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out


def check_range(value: int, what: str, maximum: int, minimum: int = 0) -> None:
    """ValueError unless minimum <= value <= maximum."""
    if not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValueError(f"{what} must be {minimum}..{maximum}, not {value!r}")


class Field(abc.ABC):
    """One piece of the wire layout; fills and reads one or more attributes."""

    #: Bytes it always takes (optional groups use it to decide whether they are present).
    size: int = 0

    @abc.abstractmethod
    def read(self, r: Reader, values: dict[str, Any]) -> None:
        """Read the field's bytes into `values` (attribute name -> value)."""

    @abc.abstractmethod
    def write(self, obj: Any, out: bytearray) -> None:
        """Append the field's bytes for `obj`'s attributes."""


class UInt(Field):
    """An unsigned (or signed) big-endian integer of `size` bytes; `none_as` is written for None."""

    def __init__(
        self,
        name: str,
        size: int = 1,
        *,
        maximum: int | None = None,
        signed: bool = False,
        none_as: int | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.signed = signed
        self.none_as = none_as
        bits = 8 * size
        self.minimum = -(1 << (bits - 1)) if signed else 0
        self.maximum = (
            maximum if maximum is not None else ((1 << (bits - 1)) - 1 if signed else (1 << bits) - 1)
        )

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        values[self.name] = int.from_bytes(r.take(self.size, self.name), "big", signed=self.signed)

    def write(self, obj: Any, out: bytearray) -> None:
        value = getattr(obj, self.name)
        if value is None and self.none_as is not None:
            value = self.none_as
        check_range(value, self.name.replace("_", " "), self.maximum, self.minimum)
        out += value.to_bytes(self.size, "big", signed=self.signed)


def U8(name: str, maximum: int = 0xFF, *, none_as: int | None = None) -> UInt:
    """One byte."""
    return UInt(name, 1, maximum=maximum, none_as=none_as)


def U16(name: str) -> UInt:
    """Two bytes, big-endian."""
    return UInt(name, 2)


def U24(name: str) -> UInt:
    """Three bytes, big-endian."""
    return UInt(name, 3)


def U32(name: str) -> UInt:
    """Four bytes, big-endian."""
    return UInt(name, 4)


@dataclass(frozen=True, slots=True)
class Flag:
    """A bool attribute: read as "any bit of `mask` set", written as `value` (default: `mask`)."""

    name: str
    mask: int
    value: int | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """An int attribute in `width` bits starting at bit `shift`; `read_mask` narrows what is read."""

    name: str
    shift: int = 0
    width: int = 8


class Bits(Field):
    """One byte holding flags and small ints; `fixed` bits are always written (e.g. a marker)."""

    size = 1

    def __init__(self, *parts: Flag | Part, fixed: int = 0) -> None:
        self.parts = parts
        self.fixed = fixed

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        byte = r.byte(" / ".join(p.name for p in self.parts) or "byte")
        for part in self.parts:
            if isinstance(part, Flag):
                values[part.name] = bool(byte & part.mask)
            else:
                values[part.name] = (byte >> part.shift) & ((1 << part.width) - 1)

    def write(self, obj: Any, out: bytearray) -> None:
        byte = self.fixed
        for part in self.parts:
            value = getattr(obj, part.name)
            if isinstance(part, Flag):
                byte |= (part.mask if part.value is None else part.value) if value else 0
            else:
                check_range(value, part.name.replace("_", " "), (1 << part.width) - 1)
                byte |= value << part.shift
        out.append(byte)


class Bool(Field):
    """A byte read as "not zero", written as 0 or 1."""

    size = 1

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        values[self.name] = r.byte(self.name) != 0

    def write(self, obj: Any, out: bytearray) -> None:
        out.append(int(bool(getattr(obj, self.name))))


class Enum(Field):
    """A byte converted by `kind` (an IntEnum or IntFlag); a value `kind` refuses is a ProtocolError."""

    size = 1

    def __init__(self, name: str, kind: Callable[[int], Any], label: str | None = None) -> None:
        self.name = name
        self.kind = kind
        self.label = label or name

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        byte = r.byte(self.name)
        try:
            values[self.name] = self.kind(byte)
        except ValueError:
            raise ProtocolError(f"{r.what}: unknown {self.label} 0x{byte:02x}") from None

    def write(self, obj: Any, out: bytearray) -> None:
        value = int(getattr(obj, self.name))
        check_range(value, self.label, 0xFF)
        out.append(value)


class Data(Field):
    """A length byte and that many bytes; `nonempty` refuses a zero length."""

    size = 1

    def __init__(self, name: str, *, nonempty: bool = False) -> None:
        self.name = name
        self.nonempty = nonempty

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        length = r.byte(f"{self.name} length")
        if self.nonempty and not length:
            raise ProtocolError(f"{r.what}: empty {self.name}")
        values[self.name] = r.take(length, self.name)

    def write(self, obj: Any, out: bytearray) -> None:
        data = getattr(obj, self.name)
        check_range(len(data), f"{self.name} length", 0xFF)
        out.append(len(data))
        out += data


class Text(Field):
    """NUL-terminated ASCII (undecodable bytes replaced)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        end = r.data.find(b"\x00", r.pos)
        if end < 0:
            raise ProtocolError(f"{r.what}: no NUL-terminated {self.name}")
        values[self.name] = r.data[r.pos : end].decode("ascii", "replace")
        r.pos = end + 1

    def write(self, obj: Any, out: bytearray) -> None:
        out += getattr(obj, self.name).encode("ascii", "replace") + b"\x00"


class Trailer(Field):
    """Constant bytes we write (a fixed tail the peer expects) and ignore when reading."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        return

    def write(self, obj: Any, out: bytearray) -> None:
        out += self.data


class Reserved(Field):
    """A reserved byte: ignored when read, written as `value`."""

    size = 1

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        r.byte("reserved byte")

    def write(self, obj: Any, out: bytearray) -> None:
        out.append(self.value)


class Optional(Field):
    """Trailing fields present together: read when `at_least` bytes remain (default: their size),
    written when attribute `key` (default: the first field's) is not None."""

    def __init__(self, *fields: Field, key: str | None = None, at_least: int | None = None) -> None:
        self.fields = fields
        self.size = 0
        self.at_least = at_least if at_least is not None else sum(f.size for f in fields)
        first = fields[0]
        self.key = key or getattr(first, "name", None) or first.parts[0].name  # type: ignore[attr-defined]

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        if r.remaining >= max(self.at_least, 1):
            for field in self.fields:
                field.read(r, values)

    def write(self, obj: Any, out: bytearray) -> None:
        if getattr(obj, self.key) is not None:
            for field in self.fields:
                field.write(obj, out)


class Rest(Field):
    """Every remaining byte, as `bytes`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        values[self.name] = r.rest()

    def write(self, obj: Any, out: bytearray) -> None:
        out += getattr(obj, self.name)


class ByteList(Field):
    """Every remaining byte, as a tuple of ints (node ids, CC ids, ...); `count` reads a fixed number."""

    def __init__(self, name: str, maximum: int = 0xFF, *, count: str | None = None) -> None:
        self.name = name
        self.maximum = maximum
        self.count = count

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        if self.count is None:
            values[self.name] = tuple(r.rest())
        else:
            values[self.name] = tuple(r.take(values[self.count], self.name))

    def write(self, obj: Any, out: bytearray) -> None:
        items = getattr(obj, self.name)
        for item in items:
            check_range(item, self.name.replace("_", " "), self.maximum)
        out += bytes(items)


def parse_bitmask(mask: bytes, first: int) -> tuple[int, ...]:
    """The numbers whose bits are set; bit 0 of byte 0 stands for `first`."""
    return tuple(first + i * 8 + bit for i, byte in enumerate(mask) for bit in range(8) if byte >> bit & 1)


def encode_bitmask(values: Iterable[int], first: int, min_bytes: int = 1) -> bytes:
    """Inverse of `parse_bitmask`; values below `first` raise ValueError."""
    values = tuple(values)
    if any(v < first for v in values):
        raise ValueError(f"bitmask values must be >= {first}: {values}")
    length = max([min_bytes, *((v - first) // 8 + 1 for v in values)])
    out = bytearray(length)
    for v in values:
        out[(v - first) // 8] |= 1 << ((v - first) % 8)
    return bytes(out)


class Bitmask(Field):
    """A bitmask of numbers (bit 0 of byte 0 = `first`), to the end of the payload (at most `limit`
    bytes) or of the length a preceding `MaskLength` read; `drop_zero` hides the reserved bit for 0."""

    def __init__(
        self,
        name: str,
        first: int = 0,
        *,
        drop_zero: bool = False,
        required: bool = True,
        length_from: str | None = None,
        min_bytes: int = 1,
        maximum: int | None = None,
        limit: int | None = None,
    ) -> None:
        self.limit = limit
        self.name = name
        self.first = first
        self.drop_zero = drop_zero
        self.required = required
        self.length_from = length_from
        self.min_bytes = min_bytes
        self.maximum = maximum

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        if self.length_from is not None:
            mask = r.take(values.pop(self.length_from), self.name)
        else:
            if self.required and not r.remaining:
                r.take(1, self.name)
            mask = r.rest() if self.limit is None else r.take(min(self.limit, r.remaining), self.name)
        numbers = parse_bitmask(mask, self.first)
        values[self.name] = tuple(n for n in numbers if n) if self.drop_zero else numbers

    def mask_of(self, obj: Any) -> bytes:
        """The mask bytes for `obj` (a preceding length field asks for it too)."""
        numbers = getattr(obj, self.name)
        if self.maximum is not None:
            for n in numbers:
                check_range(n, self.name, self.maximum)
        if not numbers and not self.min_bytes:
            return b""
        return encode_bitmask(numbers, self.first, self.min_bytes)

    def write(self, obj: Any, out: bytearray) -> None:
        out += self.mask_of(obj)


class MaskLength(Field):
    """The length byte of a following `Bitmask` (low `width` bits) with flags in the high bits."""

    size = 1

    def __init__(self, mask: Bitmask, *flags: Flag, width: int = 5) -> None:
        self.mask = mask
        self.flags = flags
        self.width = width
        mask.length_from = f"_{mask.name}_length"

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        byte = r.byte(f"{self.mask.name} length")
        values[f"_{self.mask.name}_length"] = byte & ((1 << self.width) - 1)
        for flag in self.flags:
            values[flag.name] = bool(byte & flag.mask)

    def write(self, obj: Any, out: bytearray) -> None:
        length = len(self.mask.mask_of(obj))
        check_range(length, f"{self.mask.name} bitmask length", (1 << self.width) - 1)
        for flag in self.flags:
            length |= flag.mask if getattr(obj, flag.name) else 0
        out.append(length)


class Custom(Field):
    """An irregular layout written as two functions (a last resort; prefer the fields above)."""

    def __init__(
        self,
        read: Callable[[Reader, dict[str, Any]], None],
        write: Callable[[Any, bytearray], None],
    ) -> None:
        self._read = read
        self._write = write

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        self._read(r, values)

    def write(self, obj: Any, out: bytearray) -> None:
        self._write(obj, out)


Schema = Sequence[Field]


class HasSchema(Protocol):
    """A class whose wire layout is its `schema`."""

    schema: ClassVar[Schema]


T = TypeVar("T")


def decode(cls: Callable[..., T], schema: Schema, payload: bytes, what: str) -> T:
    """Build `cls` from `payload` by reading `schema`; ProtocolError if malformed."""
    r = Reader(bytes(payload), what)
    values: dict[str, Any] = {}
    for field in schema:
        field.read(r, values)
    return cls(**{k: v for k, v in values.items() if not k.startswith("_")})


def encode(obj: Any, schema: Schema) -> bytes:
    """The payload of `obj` by writing `schema`; ValueError for an out-of-range attribute."""
    out = bytearray()
    for field in schema:
        field.write(obj, out)
    return bytes(out)
