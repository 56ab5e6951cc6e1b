"""S2 and S0 against zwave-js's MockController and MockNodes (tests/peers/zwave/s2_launcher.mjs).

The mock controller holds our network keys; a lock joins through real inclusion and zwave-js's
own joining-node S2 behaviour (KEX, ECDH, CKDF, CCM, SPAN) talks to our `ZWaveSecurity` on the
radio's Security seam. Then commands go out S2-encapsulated and must change the lock; its reports
come back encapsulated and must become state. The mock records the raw bytes it received, so the
tests check nothing went out plain.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from zwave_peer import PEER_DIR, PeerMissing, ZWavePeer, household_node

from hub_core.errors import InvalidCommand
from hub_core.model import Command, DeviceAdded, DeviceId, DeviceRemoved, InclusionUpdate, StateChanged
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.zwave.security.classes import dsk_hidden, dsk_string
from radios.zwave.security.keystore import load_or_create
from radios.zwave.security.primitives import x25519_keypair
from radios.zwave.security.secure_radio import SecureZWaveRadio

pytestmark = pytest.mark.peer
WAIT = 20.0
LOCK = 5
S2_UNAUTH, S2_AUTH, S2_AC, S0 = 0, 1, 2, 7


def node_public_key(node_id: int) -> bytes:
    """The mock node's ECDH public key (s2_launcher.mjs derives its private key from the node id)."""
    return x25519_keypair(hashlib.sha256(f"hub-agent mock node {node_id}".encode()).digest())[1]


def pin_of(node_id: int) -> str:
    return f"{int.from_bytes(node_public_key(node_id)[:2], 'big'):05d}"


def secure_lock(classes: list[int]) -> dict[str, Any]:
    node: dict[str, Any] = json.loads(json.dumps(household_node("lock")))
    if set(classes) & {S2_UNAUTH, S2_AUTH, S2_AC}:
        node["capabilities"]["commandClasses"].append({"ccId": 0x9F, "version": 1})
    if S0 in classes:
        node["capabilities"]["commandClasses"].append({"ccId": 0x98, "version": 1})
    node["capabilities"]["securityClasses"] = classes
    return node


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zwave-keys") / "zwave-keys.json"
    load_or_create(path)
    return path


@pytest.fixture(scope="module")
def s2_peer(keys_file: Path) -> Iterator[ZWavePeer]:
    peer = ZWavePeer([], launcher=PEER_DIR / "s2_launcher.mjs", args=("--keys", str(keys_file)))
    try:
        peer.start()
    except PeerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield peer
    finally:
        peer.stop()


class SecureHome:
    """The production SecureZWaveRadio (ZWaveSecurity on the radio's seam) on the S2 mock."""

    def __init__(self, peer: ZWavePeer, data_dir: Path, keys_file: Path, pin_timeout: float = 240.0) -> None:
        self.peer = peer
        self.events = EventLog()
        ctx = RadioContext(data_dir, self.events, state_reader=self.events.state_of)
        self.radio = SecureZWaveRadio(
            ctx, peer.url, load_or_create(keys_file), security={"pin_timeout": pin_timeout}
        )
        self.security = self.radio.security
        self.grants_file = data_dir / "zwave-security.json"

    async def notice(self, state: str) -> InclusionUpdate:
        event = await self.events.wait_for(
            lambda e: isinstance(e, InclusionUpdate) and e.state == state, since=0, timeout=WAIT
        )
        assert isinstance(event, InclusionUpdate)
        return event

    async def include(
        self, node: dict[str, Any], pin: str | None = None, wait_pin: bool = False
    ) -> DeviceAdded:
        mark = self.events.mark()
        await self.peer.include(node)
        await self.radio.set_inclusion(60)
        if pin is not None or wait_pin:
            await self.notice("pin_required")
        if pin is not None:
            self.radio.enter_pin(pin)
        device = f"zwave-{node['id']}"
        event = await self.events.wait_for(
            lambda e: isinstance(e, DeviceAdded) and e.device.id == device, since=mark, timeout=WAIT
        )
        await self.radio.set_inclusion(0)
        await self.radio.settle()
        assert isinstance(event, DeviceAdded)
        return event

    async def sent_plain(self, node: int) -> list[bytes]:
        """CCs the host sent the node outside S2/S0 encapsulation (other than the security CCs)."""
        return [b for b in await self.peer.received(node) if b[0] not in (0x9F, 0x98)]


@pytest.fixture
async def home(s2_peer: ZWavePeer, tmp_path: Path, keys_file: Path) -> AsyncIterator[SecureHome]:
    s2_peer.reset([])
    home = SecureHome(s2_peer, tmp_path, keys_file, pin_timeout=2.0)
    await home.radio.start()
    try:
        yield home
        await home.radio.settle()
    finally:
        await home.radio.stop()
        assert s2_peer.errors() == []


async def test_an_s2_unauthenticated_lock_joins_and_takes_only_encrypted_commands(home: SecureHome) -> None:
    added = await home.include(secure_lock([S2_UNAUTH]))
    assert added.device.to_json()["security"] == "S2_Unauthenticated"
    assert home.security.security_of(LOCK) == "S2_Unauthenticated"
    assert (await home.notice("secured")).security == "S2_Unauthenticated"
    mark = home.events.mark()
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "lock")), WAIT)
    await home.events.wait_for(
        lambda e: isinstance(e, StateChanged) and e.attribute == "lock" and e.value == "locked", since=mark
    )
    assert await home.sent_plain(LOCK) == []  # interview and command: all under S2
    saved = json.loads(home.grants_file.read_text())
    assert next(iter(saved.values())) == {"5": ["S2_Unauthenticated"]}


async def test_an_access_control_lock_needs_the_pin(home: SecureHome) -> None:
    await home.include(secure_lock([S2_UNAUTH, S2_AUTH, S2_AC]), pin=pin_of(LOCK))
    required = await home.notice("pin_required")
    assert required.dsk == dsk_hidden(node_public_key(LOCK)[:16])
    assert str(required.to_json()["dsk"]).startswith("xxxxx-") and required.device == "zwave-5"
    assert pin_of(LOCK) not in str(required.to_json())
    assert home.security.security_of(LOCK) == "S2_AccessControl"
    mark = home.events.mark()
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "unlock")), WAIT)
    await home.events.wait_for(
        lambda e: isinstance(e, StateChanged) and e.attribute == "lock" and e.value == "unlocked", since=mark
    )
    assert await home.sent_plain(LOCK) == []


async def test_a_wrong_pin_includes_the_lock_without_security(home: SecureHome) -> None:
    wrong = f"{(int(pin_of(LOCK)) + 1) % 65536:05d}"
    await home.include(secure_lock([S2_UNAUTH, S2_AUTH]), pin=wrong)
    failed = await home.notice("security_failed")
    assert failed.reason is not None and "wrong PIN" in failed.reason
    assert home.security.security_of(LOCK) == "none"
    assert home.security.granted(LOCK) == frozenset()


async def test_no_pin_in_time_falls_back_with_the_reason(home: SecureHome) -> None:
    await home.include(secure_lock([S2_UNAUTH, S2_AUTH, S2_AC]), wait_pin=True)
    failed = await home.notice("security_failed")
    assert failed.reason is not None and "timed out" in failed.reason
    assert home.security.security_of(LOCK) == "none"
    with pytest.raises(InvalidCommand, match="no Z-Wave node is waiting"):
        home.security.enter_pin(pin_of(LOCK))


async def test_plain_reports_from_a_secure_lock_are_refused(home: SecureHome) -> None:
    await home.include(secure_lock([S2_UNAUTH]))
    mark = home.events.mark()
    # A forged plain Notification Report "lock jammed", then a real (encrypted) report after a command.
    await home.peer.report(LOCK, bytes.fromhex("7105000000ff060b00"))
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "lock")), WAIT)
    await home.events.wait_for(
        lambda e: isinstance(e, StateChanged) and e.attribute == "lock" and e.value == "locked", since=mark
    )
    changes = [
        e.value for e in home.events.events[mark:] if isinstance(e, StateChanged) and e.attribute == "lock"
    ]
    assert changes == ["locked"]


async def test_after_a_hub_restart_the_nonces_resynchronise(
    home: SecureHome, tmp_path: Path, keys_file: Path
) -> None:
    await home.include(secure_lock([S2_UNAUTH, S2_AC]), pin=pin_of(LOCK))
    mark = home.events.mark()
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "lock")), WAIT)
    await home.events.wait_for(lambda e: isinstance(e, StateChanged) and e.value == "locked", since=mark)
    await home.radio.settle()
    await home.radio.stop()
    # A new process: no SPAN on our side, while the lock still holds its old one.
    again = SecureHome(home.peer, tmp_path, keys_file)
    await again.radio.start()
    try:
        await again.radio.settle()
        assert again.security.security_of(LOCK) == "S2_AccessControl"  # from the grants file
        mark = again.events.mark()
        await asyncio.wait_for(again.radio.execute(Command(DeviceId("zwave-5"), "unlock")), WAIT)
        await again.events.wait_for(
            lambda e: isinstance(e, StateChanged) and e.attribute == "lock" and e.value == "unlocked",
            since=mark,
        )
        assert await again.sent_plain(LOCK) == []
    finally:
        await again.radio.stop()


async def test_an_s0_lock_joins_with_the_network_key_and_takes_commands(home: SecureHome) -> None:
    await home.include(secure_lock([S0]))
    assert home.security.security_of(LOCK) == "S0_Legacy"
    mark = home.events.mark()
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "lock")), WAIT)
    await home.events.wait_for(
        lambda e: isinstance(e, StateChanged) and e.attribute == "lock" and e.value == "locked", since=mark
    )
    assert await home.sent_plain(LOCK) == []


async def test_supervision_travels_inside_s2(home: SecureHome) -> None:
    node = secure_lock([S2_UNAUTH])
    node["capabilities"]["commandClasses"].append({"ccId": 0x6C, "version": 1})
    await home.include(node)
    plaintexts: list[bytes] = []
    encapsulate = home.security.encapsulate

    async def recording(node_id: int, payload: bytes) -> bytes:
        plaintexts.append(payload)
        return await encapsulate(node_id, payload)

    home.security.encapsulate = recording  # type: ignore[method-assign]
    mark = home.events.mark()
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "lock")), WAIT)
    await home.events.wait_for(
        lambda e: isinstance(e, StateChanged) and e.attribute == "lock" and e.value == "locked", since=mark
    )
    # Supervision Get (0x6C 0x01) wrapping Door Lock Operation Set, handed to S2 as one payload.
    assert any(p[:2] == b"\x6c\x01" and p.endswith(b"\x62\x01\xff") for p in plaintexts), plaintexts
    assert await home.sent_plain(LOCK) == []


async def test_a_provisioned_node_joins_without_asking_for_a_pin(home: SecureHome) -> None:
    dsk = dsk_string(node_public_key(LOCK)[:16])
    await home.radio.provision(dsk=dsk, name="front door")
    await home.include(secure_lock([S2_UNAUTH, S2_AUTH, S2_AC]))
    assert home.security.security_of(LOCK) == "S2_AccessControl"
    assert not [e for e in home.events.events if isinstance(e, InclusionUpdate) and e.state == "pin_required"]


async def test_an_excluded_node_loses_its_grants(home: SecureHome) -> None:
    await home.include(secure_lock([S2_UNAUTH]))
    mark = home.events.mark()
    await home.peer.exclude(LOCK)
    await home.radio.remove_device(DeviceId("zwave-5"))
    await home.events.wait_for(lambda e: isinstance(e, DeviceRemoved) and e.device == "zwave-5", since=mark)
    await home.radio.settle()
    await home.radio.stop()  # the grants file is written before the security layer closes
    assert home.security.security_of(LOCK) == "none"
    assert next(iter(json.loads(home.grants_file.read_text()).values())) == {}


async def test_a_command_the_lock_cannot_open_is_resent_after_its_nonce_report(home: SecureHome) -> None:
    await home.include(secure_lock([S2_UNAUTH]))
    mark = home.events.mark()
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "unlock")), WAIT)
    await home.events.wait_for(lambda e: isinstance(e, StateChanged) and e.value == "unlocked", since=mark)
    await home.radio.settle()
    # Fault injection: our nonce stream runs ahead of the lock's by more than its decrypt window, as
    # after frames lost in the air. The lock answers the next command with a Nonce Report (SOS).
    for _ in range(8):
        home.security._s2.seal(LOCK, b"\x00")
    mark = home.events.mark()
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "lock")), WAIT)
    await home.events.wait_for(
        lambda e: isinstance(e, StateChanged) and e.attribute == "lock" and e.value == "locked", since=mark
    )


async def test_security_none_includes_a_secure_lock_plain(home: SecureHome) -> None:
    home.radio.set_security_policy("none")
    added = await home.include(secure_lock([S2_UNAUTH]))
    assert added.device.to_json()["security"] == "none"
    mark = home.events.mark()
    await asyncio.wait_for(home.radio.execute(Command(DeviceId("zwave-5"), "lock")), WAIT)
    await home.events.wait_for(lambda e: isinstance(e, StateChanged) and e.value == "locked", since=mark)
    assert [b for b in await home.peer.received(LOCK) if b[0] == 0x9F] == []  # no KEX Get, nothing sealed
