"""SmartStart's pure parts: the home ids a DSK gives (golden values computed by zwave-js's
nwiHomeIdFromDSK/authHomeIdFromDSK, vectors.json from tests/peers/zwave/s2_vectors.mjs), the
Serial API frames (SmartStart inclusion request 0x85, AddNode SmartStart-DSK and listen), and a fuzz of
the request's parser, which faces the air: only ProtocolError may escape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_core.errors import ProtocolError
from radios.zwave.frame import Frame, FrameType
from radios.zwave.messages import (
    AddNodeDskToNetworkRequest,
    AddNodeToNetworkRequest,
    AddRemoveMode,
    ApplicationUpdate,
    FunctionId,
    NodeInfo,
    SmartStartRequest,
    UnknownMessage,
    UpdateState,
    parse_frame,
)
from radios.zwave.security.classes import SecurityClass
from radios.zwave.security.provisioning import Provisioned, ProvisioningList, auth_home_id, nwi_home_id

VECTORS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "vectors.json").read_text())[
    "smart_start_home_ids"
]


def _key(dsk: str) -> bytes:
    return Provisioned(dsk).key_bytes()


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["dsk"][:11])
def test_home_ids_match_zwave_js(vector: dict[str, Any]) -> None:
    assert f"{nwi_home_id(_key(vector['dsk'])):08x}" == vector["nwi"]
    assert f"{auth_home_id(_key(vector['dsk'])):08x}" == vector["auth"]
    assert Provisioned(vector["dsk"]).home_ids() == (int(vector["nwi"], 16), int(vector["auth"], 16))


def test_the_vectors_cover_the_bits_that_are_forced() -> None:
    nwis = {v["nwi"] for v in VECTORS}
    assert {"fffffffe", "c0000000"} <= nwis  # lowest bit cleared, top two set, from all-ones and zeros
    assert {v["auth"] for v in VECTORS} >= {"3fffffff", "00000001"}


def test_the_list_finds_an_entry_by_its_nwi_home_id() -> None:
    provisioning = ProvisioningList(None)
    for vector in VECTORS[:3]:
        provisioning.add(Provisioned(vector["dsk"], name=vector["dsk"][:5]))
    assert len(provisioning) == 3
    found = provisioning.by_nwi_home_id(int(VECTORS[1]["nwi"], 16))
    assert found is not None and found.dsk == VECTORS[1]["dsk"]
    assert provisioning.by_nwi_home_id(int(VECTORS[1]["nwi"], 16) ^ 0x100) is None


def _update(payload: bytes) -> Frame:
    return Frame(FrameType.REQUEST, FunctionId.APPLICATION_UPDATE, payload)


def test_a_smart_start_inclusion_request_parses() -> None:
    # update 0x85, node 0, RX status 0x02, NWI home id, 3 CCs, basic/generic/specific, CCs
    payload = bytes.fromhex("850002ed778038030440039f6272")
    message = parse_frame(_update(payload))
    assert message == SmartStartRequest(0x85, 0, 0x02, 0xED778038, NodeInfo(4, 0x40, 3, (0x9F, 0x62, 0x72)))
    assert message.to_payload() == payload


def test_a_length_that_counts_the_device_classes_reads_the_same_ccs() -> None:
    payload = bytes.fromhex("850000c0000000060440039f6272")
    message = parse_frame(_update(payload))
    assert isinstance(message, SmartStartRequest)
    assert message.info.command_classes == (0x9F, 0x62, 0x72)


def test_other_application_updates_still_parse_as_before() -> None:
    nif = parse_frame(_update(bytes.fromhex("840505044003629f")))
    assert nif == ApplicationUpdate(UpdateState.NODE_INFO_RECEIVED, 5, NodeInfo(4, 0x40, 3, (0x62, 0x9F)))
    assert isinstance(parse_frame(_update(bytes.fromhex("8100"))), ApplicationUpdate)
    # A response frame of the same function id is not the unsolicited request.
    response = Frame(FrameType.RESPONSE, FunctionId.APPLICATION_UPDATE, bytes.fromhex("85000000"))
    assert isinstance(parse_frame(response), UnknownMessage)


@pytest.mark.parametrize(
    "payload",
    ["85", "8500", "850000", "85000012345678", "8500001234567803", "850000123456780304"],
)
def test_a_truncated_request_is_a_protocol_error(payload: str) -> None:
    with pytest.raises(ProtocolError, match="SmartStartRequest"):
        parse_frame(_update(bytes.fromhex(payload)))


def test_add_node_smart_start_frames() -> None:
    mode = AddRemoveMode.SMART_START_DSK | AddRemoveMode.HIGH_POWER | AddRemoveMode.NETWORK_WIDE
    request = AddNodeDskToNetworkRequest(mode, nwi_home_id=0xED778038, auth_home_id=0x34728A39)
    assert request.with_callback_id(7).to_payload() == bytes.fromhex("c807ed77803834728a39")
    assert request.wants_callback and request.function is FunctionId.ADD_NODE_TO_NETWORK
    listen = AddNodeToNetworkRequest(
        AddRemoveMode.SMART_START_LISTEN | AddRemoveMode.NETWORK_WIDE, callback=False
    )
    assert listen.to_payload() == bytes.fromhex("4900") and not listen.wants_callback


@given(st.binary(max_size=64))
def test_fuzz_application_update_frames_raise_only_protocol_error(body: bytes) -> None:
    for payload in (body, b"\x85" + body):
        try:
            message = parse_frame(_update(payload))
        except ProtocolError:
            continue
        assert isinstance(message, SmartStartRequest | ApplicationUpdate)
        if isinstance(message, SmartStartRequest):
            assert 0 <= message.nwi_home_id <= 0xFFFF_FFFF
            assert len(message.info.command_classes) <= max(0, len(payload) - 11)


def test_an_entry_keeps_its_classes_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "zwave-provisioning.json"
    provisioning = ProvisioningList(path)
    limited = Provisioned(VECTORS[0]["dsk"], "qr", 0x90, 0x236, frozenset({SecurityClass.S2_AUTHENTICATED}))
    provisioning.add(limited)
    provisioning.add(Provisioned(VECTORS[1]["dsk"], "typed in"))
    provisioning.save()
    again = ProvisioningList(path)
    assert again.entries() == provisioning.entries()
    assert {e.dsk: e.classes for e in again.entries()} == {
        VECTORS[0]["dsk"]: frozenset({SecurityClass.S2_AUTHENTICATED}),
        VECTORS[1]["dsk"]: None,
    }
    # An entry naming a class we do not know is dropped, the others stay.
    doc = json.loads(path.read_text())
    doc[0]["security_classes"] = ["S3_Quantum"]
    path.write_text(json.dumps(doc))
    assert len(ProvisioningList(path)) == 1
