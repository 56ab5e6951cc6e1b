"""Fuzz and property tests of the CC layer: only ProtocolError escapes; parsed commands re-serialise."""

from __future__ import annotations

import contextlib
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from hub_core.errors import ProtocolError
from radios.zwave.cc import NodeCapabilities, parse_cc, registered, unwrap
from radios.zwave.cc.base import (
    decode_duration,
    encode_bitmask,
    encode_duration,
    encode_scaled,
    parse_bitmask,
    parse_scaled,
)

_KEYS = sorted(registered())
_known_prefix = st.sampled_from(_KEYS).map(bytes)
# Encapsulations around known commands reach the nested parsers.
_frames = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda head, tail: head + tail, _known_prefix, st.binary(max_size=48)),
    st.builds(
        lambda head, tail: bytes.fromhex("600d0100") + head + tail, _known_prefix, st.binary(max_size=24)
    ),
)


def _check(data: bytes) -> None:
    try:
        parsed = parse_cc(data)
    except ProtocolError:
        return
    again = parse_cc(parsed.to_bytes())
    assert again == parsed
    with contextlib.suppress(ProtocolError):
        unwrap(parsed)


@settings(max_examples=1500, deadline=None)
@given(_frames)
def test_parse_cc_raises_only_protocol_error_and_round_trips(data: bytes) -> None:
    _check(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_KEYS), st.binary(max_size=48), st.integers(0, 63))
def test_supervision_wrapped_commands_round_trip(key: tuple[int, int], tail: bytes, session: int) -> None:
    inner = bytes(key) + tail
    _check(bytes((0x6C, 0x01, session, len(inner))) + inner)


@given(
    st.floats(min_value=-2_000_000, max_value=2_000_000, allow_nan=False),
    st.integers(0, 3),
    st.integers(0, 3),
)
def test_scaled_values_round_trip(value: float, scale: int, precision: int) -> None:
    value = round(value, precision)
    data = encode_scaled(value, scale, precision)
    parsed, end = parse_scaled(data, 0, "test")
    assert end == len(data)
    assert parsed.scale == scale
    assert math.isclose(parsed.value, value, abs_tol=10**-precision / 2)
    assert encode_scaled(parsed.value, parsed.scale, parsed.precision, parsed.size) == data


@given(st.sets(st.integers(1, 80)))
def test_bitmasks_round_trip(values: set[int]) -> None:
    assert set(parse_bitmask(encode_bitmask(values, 1), 1)) == values


@given(st.integers(0, 0xFD))
def test_duration_bytes_round_trip(byte: int) -> None:
    # 60 s can be written as 0x3C or 0x80; any encoding must decode to the same duration.
    seconds = decode_duration(byte)
    assert seconds is not None
    assert decode_duration(encode_duration(seconds)) == seconds


def test_duration_encoding_follows_the_spec() -> None:
    assert encode_duration(0) == 0x00
    assert encode_duration(127) == 0x7F  # seconds up to 127
    assert encode_duration(128) == 0x81  # then whole minutes: 2 min is the nearest
    assert encode_duration(60 * 127) == 0xFE  # 127 min, the longest
    assert encode_duration(None) == 0xFF  # the device's default
    assert decode_duration(0xFE) is None  # unknown, in reports


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["ccs", "binary_sensor_types", "sensor_scales", "meter_scales", "notification_events", "thermostat_modes",
     "setpoint_types", "scenes", "endpoints", "manufacturer_id", "product_type", "product_id", "firmware",
     "wake_up_interval", "association_groups"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.one_of(_json, st.dictionaries(_keys, _json, max_size=6)))
def test_capabilities_from_any_json_raise_only_value_error(data: object) -> None:
    try:
        caps = NodeCapabilities.from_json(data)
    except ValueError:
        return
    assert NodeCapabilities.from_json(caps.to_json()) == caps
