"""The schema codec (radios/zwave/schema.py): one round-trip property per field type, truncation and
garbage raise only ProtocolError, and every Get names the report that answers it."""

from __future__ import annotations

import contextlib
import math
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_core.errors import ProtocolError
from radios.zwave import cc
from radios.zwave.cc.base import CCCommand, Inner, Scaled, registered
from radios.zwave.cc.management import ParamValue
from radios.zwave.cc.transport import CCList
from radios.zwave.messages.network import NodeInfo, NodeInfoField
from radios.zwave.schema import (
    U8,
    U16,
    U24,
    U32,
    Bitmask,
    Bits,
    Bool,
    ByteList,
    Data,
    Enum,
    Field,
    Flag,
    MaskLength,
    Optional,
    Part,
    Reserved,
    Rest,
    Text,
    Trailer,
    UInt,
    decode,
    encode,
)


class Colour(IntEnum):
    RED = 1
    GREEN = 2


def _codec(schema: tuple[Field, ...], **values: Any) -> dict[str, Any]:
    """Write `values` with `schema`, read them back; also check every truncation fails cleanly."""
    obj = type("Obj", (), dict(values))()
    data = encode(obj, schema)
    back: dict[str, Any] = decode(dict, schema, data, "Obj")
    # Every shorter payload either parses (optional tails) or raises ProtocolError, nothing else.
    for end in range(len(data)):
        with contextlib.suppress(ProtocolError):
            decode(dict, schema, data[:end], "Obj")
    return back


_byte = st.integers(0, 0xFF)


@given(st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFFFFFF))
def test_unsigned_ints_round_trip(a: int, b: int, c: int, d: int) -> None:
    schema = (U8("a"), U16("b"), U24("c"), U32("d"))
    assert _codec(schema, a=a, b=b, c=c, d=d) == {"a": a, "b": b, "c": c, "d": d}


@given(st.integers(-128, 127), st.integers(-(1 << 15), (1 << 15) - 1))
def test_signed_ints_round_trip(a: int, b: int) -> None:
    assert _codec((UInt("a", signed=True), UInt("b", 2, signed=True)), a=a, b=b) == {"a": a, "b": b}


def test_out_of_range_ints_are_refused_when_writing() -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        encode(type("O", (), {"a": 256})(), (U8("a"),))
    with pytest.raises(ValueError, match=r"0\.\.127"):
        encode(type("O", (), {"a": 128})(), (Bits(Part("a", 0, 7)),))


@given(st.booleans(), st.booleans(), st.integers(0, 0x3F))
def test_bits_round_trip(up: bool, down: bool, session: int) -> None:
    schema = (Bits(Flag("up", 0x80), Flag("down", 0x40), Part("session", 0, 6)),)
    assert _codec(schema, up=up, down=down, session=session) == {"up": up, "down": down, "session": session}


@given(st.booleans())
def test_flag_with_its_own_write_value_reads_back(flirs: bool) -> None:
    # FLiRS: read as "either bit of 0x60", written as 0x20 (1000 ms).
    schema = (Bits(Flag("flirs", 0x60, 0x20), fixed=0x01),)
    obj = type("O", (), {"flirs": flirs})()
    assert encode(obj, schema) == bytes((0x21 if flirs else 0x01,))
    assert _codec(schema, flirs=flirs) == {"flirs": flirs}


@given(_byte, st.none() | _byte, st.none() | _byte)
def test_optional_tails_round_trip(first: int, second: int | None, third: int | None) -> None:
    schema = (U8("first"), Optional(U8("second"), Optional(U8("third"))))
    back = _codec(schema, first=first, second=second, third=third)
    assert back == {"first": first, **({} if second is None else {"second": second})} | (
        {"third": third} if second is not None and third is not None else {}
    )


@given(st.sets(st.integers(1, 255), max_size=30))
def test_bitmasks_round_trip(numbers: set[int]) -> None:
    assert set(_codec((Bitmask("n", 1, required=False),), n=tuple(sorted(numbers)))["n"]) == numbers


@given(st.sets(st.integers(0, 100), max_size=20), st.booleans())
def test_length_prefixed_bitmasks_round_trip(numbers: set[int], flag: bool) -> None:
    mask = Bitmask("n", 0, drop_zero=True, min_bytes=0)
    back = _codec(
        (MaskLength(mask, Flag("flag", 0x80)), mask, U8("after")),
        n=tuple(sorted(numbers)),
        flag=flag,
        after=7,
    )
    assert set(back["n"]) == numbers - {0} and back["flag"] is flag and back["after"] == 7


@given(st.binary(max_size=40), st.lists(_byte, max_size=20))
def test_rest_and_byte_lists_round_trip(rest: bytes, items: list[int]) -> None:
    assert _codec((U8("x"), ByteList("items")), x=1, items=tuple(items))["items"] == tuple(items)
    assert _codec((Rest("rest"),), rest=rest) == {"rest": rest}


@given(st.binary(max_size=255), st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=20))
def test_data_and_text_round_trip(data: bytes, text: str) -> None:
    assert _codec((Data("data"), Text("text"), U8("z")), data=data, text=text, z=3) == {
        "data": data,
        "text": text,
        "z": 3,
    }


def test_empty_data_is_refused_when_asked() -> None:
    with pytest.raises(ProtocolError, match="empty data"):
        decode(dict, (Data("data", nonempty=True),), b"\x00", "Obj")


@given(st.booleans(), st.sampled_from(list(Colour)))
def test_bools_enums_reserved_and_trailers_round_trip(on: bool, colour: Colour) -> None:
    schema = (Bool("on"), Reserved(), Enum("colour", Colour), Trailer(b"\x01\x02"))
    assert _codec(schema, on=on, colour=colour) == {"on": on, "colour": colour}


def test_an_enum_value_the_enum_refuses_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="unknown colour 0x09"):
        decode(dict, (Enum("colour", Colour),), b"\x09", "Obj")


@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 3), st.integers(0, 3))
def test_scaled_values_round_trip(value: float, scale: int, precision: int) -> None:
    value = round(value, precision)
    back = _codec((Scaled(),), value=value, scale=scale, precision=precision, size=None)
    assert back["scale"] == scale and back["precision"] == precision
    assert math.isclose(back["value"], value, abs_tol=10**-precision / 2)


@given(
    st.sampled_from([cc.BinarySwitchSet(0xFF), cc.BasicGet(), cc.MeterGet(2), cc.BatteryReport(50)]),
    st.booleans(),
)
def test_inner_commands_round_trip(inner: CCCommand, prefixed: bool) -> None:
    assert _codec((Inner(prefixed=prefixed),), inner=inner) == {"inner": inner}


@given(st.lists(st.integers(0x20, 0xEE), max_size=12), st.lists(st.integers(0x20, 0xEE), max_size=4))
def test_cc_lists_round_trip(supported: list[int], controlled: list[int]) -> None:
    back = _codec((CCList(),), ccs=tuple(supported), controlled=tuple(controlled))
    assert back == {"ccs": tuple(supported), "controlled": tuple(controlled)}


@given(st.sampled_from([1, 2, 4]), st.integers(-(1 << 31), (1 << 31) - 1), st.booleans())
def test_configuration_values_round_trip(size: int, value: int, default: bool) -> None:
    value = max(min(value, (1 << (8 * size - 1)) - 1), -(1 << (8 * size - 1)))
    back = _codec((ParamValue(default_flag=True),), size=size, value=None if default else value)
    assert back == {"size": size, "value": None if default else value}


@given(
    st.none()
    | st.builds(NodeInfo, _byte, _byte, _byte, st.lists(st.integers(0x20, 0xEE), max_size=10).map(tuple))
)
def test_node_info_round_trips(info: NodeInfo | None) -> None:
    back = _codec((NodeInfoField(),), info=info)
    assert back.get("info") == info


@settings(max_examples=500)
@given(st.binary(max_size=40))
def test_garbage_raises_only_protocol_error(data: bytes) -> None:
    schema: tuple[Field, ...] = (
        U8("a"),
        Bits(Flag("f", 0x80), Part("p", 0, 5)),
        Optional(U16("b")),
    )
    for candidate in (schema, (Data("d"), Text("t")), (Inner(prefixed=True),), (NodeInfoField(),)):
        with contextlib.suppress(ProtocolError):
            decode(dict, candidate, data, "Obj")


# --- Get -> Report pairing lives on the Get ----------------------------------------------------------


_GETS = sorted(
    (c for c in registered().values() if c.__name__.endswith("Get") and c is not cc.SupervisionGet),
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("get", _GETS, ids=[c.__name__ for c in _GETS])
def test_every_get_names_a_registered_report(get: type[CCCommand]) -> None:
    report = get.report
    assert report is not None, f"{get.__name__} names no report"
    assert report in registered().values() and report.cc == get.cc
    assert report.__name__.endswith("Report")


def test_sets_and_notifications_expect_no_report() -> None:
    for command in registered().values():
        if command.__name__.endswith(("Set", "Notification", "Report", "Information")):
            assert command.report is None, command.__name__
