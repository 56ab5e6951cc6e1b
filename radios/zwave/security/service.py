"""`ZWaveSecurity`: S2 and S0 on the radio's Security seam (radios/zwave/encapsulation.py).

Rules of this file: this is the asyncio layer over the sans-I/O sessions (`S2Session`, `S0Session`)
and the KEX machine (`kex.step`): it moves frames through `transmit` (SendData without the seam),
awaits nonces, runs the one bootstrapping at a time with its timer, and persists grants.

- Out: a node granted any class gets every payload encapsulated at its highest class (S2 if it has
  one, else S0), after a nonce exchange when none is established. No grant: the payload goes plain.
- In: Nonce Get/Report are answered/consumed here; encapsulated frames are opened and their inner
  payload returned. A plain frame from a node holding a key is refused (logged, dropped), as is one
  opened at a lower class than the node's highest S2 class: a secure lock takes and gives only
  secure commands. An S2 frame that does not open is answered with a Nonce Report (resync).
- Bootstrapping (after AddNode, before the interview): S2 when the NIF lists Security 2, else S0
  for a lock (Door Lock CC), else nothing; `policy = "none"` skips it. The user's PIN comes through
  `enter_pin`; `notify` reports `pin_required`, `secured` and `security_failed` (with the reason).
  While the PIN is awaited, a frame from the joining node that does not open yet (its KEX Set echo,
  sent once by some nodes) is held and retried once the temporary key is known.
- Limits: one bootstrapping at a time (inclusion is serial); at most `MAX_PENDING` Nonce Reports
  queued at once, further Nonce Gets are dropped (the sender retries).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub_core.errors import DeliveryFailed, DeliveryTimeout, HubError, InvalidCommand
from hub_core.tasks import TaskGroup, TooManyTasks

from . import kex, s0
from .classes import ORDER, S2_ORDER, SecurityClass, highest, parse_pin
from .errors import DecryptFailed, DuplicateFrame, NoNonce, NotGranted, SecurityError
from .grants import GrantStore
from .keystore import NetworkKeys
from .primitives import x25519_keypair
from .provisioning import Provisioned, ProvisioningList
from .s2_cc import CC_SECURITY_2, EncapsulatedFrame, NetworkKeyReport, NonceGet, NonceReport, decode_s2
from .s2_encap import S2Session

log = logging.getLogger(__name__)

Transmit = Callable[[int, bytes], Awaitable[None]]
NONCE_TIMEOUT = (
    5.0  # how long we wait for a Nonce Report (S2 and S0); a sleeping node answers at once when awake
)
S0_STEP_TIMEOUT = 10.0  # each step of S0 network key inclusion (SDS10865 recommends 10 s)
MAX_PENDING = 32
RESEND_WINDOW = 2.0  # a Nonce Report this soon after our frame means the node could not open it
DOOR_LOCK = 0x62
# Frames a secure node may send without encapsulation: the security CCs themselves and No Operation.
_PLAIN_OK = frozenset({CC_SECURITY_2, s0.CC_SECURITY, 0x00})


@dataclass(frozen=True, slots=True)
class InclusionNotice:
    """Something the user should see about a joining node (the LAN/cloud event stream carries it)."""

    state: str  # pin_required | secured | security_failed
    node_id: int
    dsk: str | None = None  # pin_required: the DSK with its first 5 digits hidden
    security: str | None = None  # secured: the highest class granted
    reason: str | None = None  # security_failed


class _Bootstrap:
    """The one node being bootstrapped and what it is waiting for."""

    def __init__(self, node_id: int, s2: bool) -> None:
        self.node_id = node_id
        self.s2 = s2
        self.events: asyncio.Queue[kex.Event] = asyncio.Queue(maxsize=64)
        self.s0_frames: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
        self.awaiting_pin = False
        self.held: bytes | None = None

    def put(self, event: kex.Event) -> None:
        try:
            self.events.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("zwave: node %d floods the key exchange; event dropped", self.node_id)


class ZWaveSecurity:
    """S2 + S0 for the Z-Wave radio: implements `Encapsulation` and `SecurityBootstrap`."""

    def __init__(
        self,
        keys: NetworkKeys,
        grants: GrantStore,
        *,
        notify: Callable[[InclusionNotice], None] = lambda notice: None,
        nonce_timeout: float = NONCE_TIMEOUT,
        pin_timeout: float = kex.TAI2,
        clock: Callable[[], float] = time.monotonic,
        entropy: Callable[[int], bytes] = os.urandom,
        provisioning: ProvisioningList | None = None,
    ) -> None:
        self._keys = keys
        self.provisioning = provisioning if provisioning is not None else ProvisioningList(None)
        self._grants = grants
        self._notify = notify
        self._nonce_timeout = nonce_timeout
        self._pin_timeout = pin_timeout  # TAI2 (240 s) in service; tests shorten it
        self._clock = clock
        self._entropy = entropy
        self._s2 = S2Session(dict(keys.keys), entropy=entropy)
        self._s0 = s0.S0Session(keys[SecurityClass.S0_LEGACY], entropy=entropy)
        self._transmit: Transmit | None = None
        self._home: Callable[[], tuple[int, int]] | None = None
        self._loaded_home: int | None = None
        self._tasks = TaskGroup("zwave security", limit=MAX_PENDING)
        self._saves = TaskGroup("zwave security files", limit=MAX_PENDING)
        self._nonce_waiters: dict[tuple[int, int], asyncio.Future[None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._boot: _Bootstrap | None = None
        self._refused: set[tuple[int, int]] = set()
        self._last_sent: dict[int, tuple[bytes, SecurityClass | None, float]] = {}
        self.policy = "auto"

    def attach(self, transmit: Transmit, home: Callable[[], tuple[int, int]]) -> None:
        """Give the service its way out (SendData, no seam) and the (home id, own node id) source."""
        self._transmit = transmit
        self._home = home

    async def close(self) -> None:
        """Finish pending file writes, cancel pending nonce answers (the radio stops)."""
        await self._saves.settle()
        await self._tasks.close()

    # --- grants ---------------------------------------------------------------------------------

    def _sync_home(self) -> None:
        if self._home is None:
            return
        home_id, own = self._home()
        if home_id == self._loaded_home or (home_id == 0 and self._loaded_home is not None):
            return  # same network, or the controller is away (recovering): keep what we hold
        self._s2 = S2Session(dict(self._keys.keys), home_id=home_id, own_node_id=own, entropy=self._entropy)
        self._s0 = s0.S0Session(self._keys[SecurityClass.S0_LEGACY], own_node_id=own, entropy=self._entropy)
        for node, classes in self._grants.home(home_id).items():
            self._s2.set_granted(node, classes)
        self._loaded_home = home_id

    def granted(self, node_id: int) -> frozenset[SecurityClass]:
        """The classes `node_id` holds keys for."""
        self._sync_home()
        return (
            self._grants.of(self._loaded_home or 0, node_id) if self._loaded_home is not None else frozenset()
        )

    def security_of(self, node_id: int) -> str:
        """The node's highest granted class as device JSON shows it, or "none"."""
        best = highest(self.granted(node_id))
        return best.wire_name if best is not None else "none"

    def forget_later(self, node_id: int) -> None:
        """`forget` for a synchronous listener (the registry's on_forget); saves in the background."""
        try:
            self._saves.spawn(self.forget(node_id), f"forget node {node_id}")
        except TooManyTasks:
            log.warning("zwave: could not forget the keys of node %d now (busy)", node_id)

    async def forget(self, node_id: int) -> None:
        """The node left the network: drop its grants and nonces."""
        self._sync_home()
        self._s2.forget(node_id)
        self._s0.forget(node_id)
        if self._loaded_home is not None and self._grants.of(self._loaded_home, node_id):
            self._grants.set(self._loaded_home, node_id, frozenset())
            await asyncio.to_thread(self._grants.save)

    # --- the seam: out ----------------------------------------------------------------------------

    def _lock(self, node_id: int) -> asyncio.Lock:
        lock = self._locks.get(node_id)
        if lock is None:
            lock = self._locks[node_id] = asyncio.Lock()
        return lock

    async def encapsulate(self, node_id: int, payload: bytes) -> bytes:
        """`payload` encapsulated at the node's highest class (plain for a node without keys)."""
        best = highest(self.granted(node_id))
        if best is None:
            return payload
        async with self._lock(node_id):
            if best.is_s2:
                key = self._s2.default_key(node_id)
                sealed = await self._seal_s2(node_id, payload, key)
                self._last_sent[node_id] = (payload, key, self._clock())
                return sealed
            return await self._seal_s0(node_id, payload)

    async def _seal_s2(self, node_id: int, payload: bytes, key: SecurityClass | None) -> bytes:
        if not self._s2.can_seal(node_id, key):
            await self._nonce_exchange(node_id, CC_SECURITY_2, self._s2.nonce_get(node_id))
        try:
            return self._s2.seal(node_id, payload, key=key)
        except NoNonce:
            raise DeliveryFailed(f"node {node_id}: no S2 nonce after the exchange") from None

    async def _seal_s0(self, node_id: int, payload: bytes, *, temporary: bool = False) -> bytes:
        if not self._s0.can_seal(node_id, self._clock()):
            await self._nonce_exchange(node_id, s0.CC_SECURITY, s0.nonce_get())
        try:
            return self._s0.seal(node_id, payload, self._clock(), temporary=temporary)
        except NoNonce:
            raise DeliveryFailed(f"node {node_id}: its S0 nonce expired before use") from None

    async def _nonce_exchange(self, node_id: int, cc: int, nonce_get: bytes) -> None:
        if self._transmit is None:
            raise DeliveryFailed("the security layer is not attached to a radio")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._nonce_waiters[(cc, node_id)] = waiter
        try:
            await self._transmit(node_id, nonce_get)
            await asyncio.wait_for(waiter, self._nonce_timeout)
        except TimeoutError:
            name = "S2" if cc == CC_SECURITY_2 else "S0"
            raise DeliveryTimeout(
                f"node {node_id} sent no {name} nonce within {self._nonce_timeout:g} s"
            ) from None
        finally:
            if self._nonce_waiters.get((cc, node_id)) is waiter:
                del self._nonce_waiters[(cc, node_id)]

    def _resend_after_resync(self, node_id: int) -> None:
        # The node could not open our last frame (it lost its SPAN) and sent a fresh nonce: send that
        # frame again, once, under a new SPAN, as SDS13783 expects of the sender.
        last = self._last_sent.pop(node_id, None)
        if last is None or self._clock() - last[2] > RESEND_WINDOW:
            return
        payload, key, _ = last

        async def resend() -> None:
            try:
                async with self._lock(node_id):
                    sealed = await self._seal_s2(node_id, payload, key)
                await self._send_plain(node_id, sealed)
            except HubError as exc:
                log.info("zwave: node %d: resend after resynchronisation failed: %s", node_id, exc)

        try:
            self._tasks.spawn(resend(), f"S2 resend to node {node_id}")
        except TooManyTasks:
            log.warning("zwave: too many pending security answers; resend to node %d dropped", node_id)

    def _nonce_arrived(self, cc: int, node_id: int) -> None:
        waiter = self._nonce_waiters.get((cc, node_id))
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _send_soon(self, node_id: int, frame: bytes, what: str) -> None:
        if self._transmit is None:
            return
        try:
            self._tasks.spawn(self._send_quietly(node_id, frame, what), f"{what} to node {node_id}")
        except TooManyTasks:
            log.warning("zwave: too many pending security answers; %s to node %d dropped", what, node_id)

    async def _send_quietly(self, node_id: int, frame: bytes, what: str) -> None:
        assert self._transmit is not None
        try:
            await self._transmit(node_id, frame)
        except HubError as exc:
            log.info("zwave: %s to node %d not delivered: %s", what, node_id, exc)

    # --- the seam: in -----------------------------------------------------------------------------

    def decapsulate(self, node_id: int, payload: bytes) -> bytes | None:
        """The plain payload from `node_id`, or None when it was a security frame or is refused."""
        if not payload:
            return payload
        self._sync_home()
        if payload[0] == CC_SECURITY_2:
            return self._in_s2(node_id, payload)
        if payload[0] == s0.CC_SECURITY:
            return self._in_s0(node_id, payload)
        if payload[0] not in _PLAIN_OK and self._requires_security(node_id):
            self._refuse(node_id, payload[0], "plain")
            return None
        return payload

    def _requires_security(self, node_id: int) -> bool:
        return bool(self.granted(node_id))

    def _refuse(self, node_id: int, cc: int, how: str) -> None:
        # Once per node and CC at warning level: a misbehaving node must not flood the log.
        level = logging.DEBUG if (node_id, cc) in self._refused else logging.WARNING
        if len(self._refused) >= 1024:
            self._refused.clear()  # bounded memory; at worst a warning repeats
        self._refused.add((node_id, cc))
        log.log(level, "zwave: node %d requires security; refused a %s frame of CC 0x%02x", node_id, how, cc)

    def _in_s2(self, node_id: int, payload: bytes) -> bytes | None:
        try:
            frame = decode_s2(payload)
        except SecurityError as exc:
            log.debug("zwave: node %d sent a bad S2 frame: %s", node_id, exc)
            return None
        boot = self._boot if self._boot is not None and self._boot.node_id == node_id else None
        match frame:
            case NonceGet():
                self._send_soon(node_id, self._s2.nonce_report(node_id), "S2 Nonce Report")
            case NonceReport():
                self._s2.on_nonce_report(node_id, frame)
                if frame.sos and (CC_SECURITY_2, node_id) in self._nonce_waiters:
                    self._nonce_arrived(CC_SECURITY_2, node_id)
                elif frame.sos:
                    self._resend_after_resync(node_id)
            case EncapsulatedFrame():
                return self._open_s2(node_id, payload, boot)
            case _ if boot is not None:
                boot.put(kex.Received(frame, kex.PLAIN))
            case _:
                log.debug(
                    "zwave: node %d sent a plain S2 %s outside bootstrapping", node_id, type(frame).__name__
                )
        return None

    def _open_s2(self, node_id: int, payload: bytes, boot: _Bootstrap | None) -> bytes | None:
        try:
            opened = self._s2.open(node_id, payload)
        except DuplicateFrame:
            return None
        except (DecryptFailed, NoNonce) as exc:
            if boot is not None and boot.awaiting_pin:
                boot.held = payload  # retried once the PIN gives us the temporary key
                return None
            if boot is not None and self._s2.bootstrapping(node_id):
                boot.put(kex.Undecryptable())
            log.debug("zwave: node %d: %s; resynchronising", node_id, exc)
            self._send_soon(node_id, self._s2.nonce_report(node_id), "S2 Nonce Report")
            return None
        except SecurityError as exc:
            log.debug("zwave: node %d sent a bad S2 frame: %s", node_id, exc)
            return None
        inner = opened.payload
        if boot is not None and inner[:1] == bytes((CC_SECURITY_2,)):
            try:
                boot.put(kex.Received(decode_s2(inner), opened.key))
            except SecurityError as exc:
                log.debug("zwave: node %d sent a bad S2 command: %s", node_id, exc)
            return None
        if opened.key is None:
            return None  # only key exchange commands travel under the temporary key
        top = next((c for c in S2_ORDER if c in self.granted(node_id)), None)
        if top is not None and opened.key is not top and inner[:1] != bytes((CC_SECURITY_2,)):
            self._refuse(node_id, inner[0] if inner else 0, opened.key.wire_name)
            return None
        return inner or None

    def _in_s0(self, node_id: int, payload: bytes) -> bytes | None:
        try:
            command = s0.command_of(payload)
            now = self._clock()
            if command is s0.S0Command.NONCE_GET:
                self._send_soon(node_id, self._s0.nonce_report(node_id, now), "S0 Nonce Report")
            elif command is s0.S0Command.NONCE_REPORT:
                self._s0.on_nonce_report(node_id, payload, now)
                self._nonce_arrived(s0.CC_SECURITY, node_id)
            elif command in (
                s0.S0Command.MESSAGE_ENCAPSULATION,
                s0.S0Command.MESSAGE_ENCAPSULATION_NONCE_GET,
            ):
                boot = self._boot if self._boot is not None and self._boot.node_id == node_id else None
                # A joining node's Network Key Verify already comes under the network key.
                opened = self._s0.open(node_id, payload, now)
                if opened.wants_nonce:
                    self._send_soon(node_id, self._s0.nonce_report(node_id, now), "S0 Nonce Report")
                if boot is not None and not boot.s2:
                    boot.s0_frames.put_nowait(opened.payload)
                    return None
                if SecurityClass.S0_LEGACY not in self.granted(node_id):
                    self._refuse(node_id, opened.payload[0] if opened.payload else 0, "S0")
                    return None
                return opened.payload or None
            elif self._boot is not None and self._boot.node_id == node_id and not self._boot.s2:
                self._boot.s0_frames.put_nowait(payload)
        except (SecurityError, asyncio.QueueFull) as exc:
            log.debug("zwave: node %d: S0 frame dropped: %s", node_id, exc)
        return None

    # --- bootstrapping ----------------------------------------------------------------------------

    def enter_pin(self, pin: str) -> None:
        """The DSK PIN (5 digits) for the waiting node; InvalidCommand if none waits or it is malformed."""
        boot = self._boot
        if boot is None or not boot.awaiting_pin:
            raise InvalidCommand("no Z-Wave node is waiting for a PIN")
        try:
            value = parse_pin(pin)
        except ValueError as exc:
            raise InvalidCommand(str(exc)) from None
        boot.put(kex.PinEntered(value))

    def cancel(self) -> None:
        """Abandon a running bootstrapping (the user closed inclusion)."""
        if self._boot is not None and self._boot.s2:
            self._boot.put(kex.Cancelled())

    async def bootstrap(self, node_id: int, command_classes: tuple[int, ...]) -> None:
        """Grant keys to a node that just joined: S2 if it supports it, else S0 for a lock, else nothing."""
        self._sync_home()
        if self.policy == "none":
            return
        if CC_SECURITY_2 in command_classes:
            await self._bootstrap_s2(node_id)
        elif s0.CC_SECURITY in command_classes and DOOR_LOCK in command_classes:
            await self._bootstrap_s0(node_id)

    async def _grant(self, node_id: int, classes: frozenset[SecurityClass]) -> None:
        assert self._loaded_home is not None
        self._grants.set(self._loaded_home, node_id, classes)
        self._s2.set_granted(node_id, classes)
        await asyncio.to_thread(self._grants.save)
        best = highest(classes)
        self._notify(
            InclusionNotice("secured", node_id, security=best.wire_name if best is not None else "none")
        )
        log.info(
            "zwave: node %d secured with %s", node_id, ", ".join(c.wire_name for c in ORDER if c in classes)
        )

    def _failed(self, node_id: int, reason: str) -> None:
        log.warning("zwave: node %d joined without security: %s", node_id, reason)
        self._notify(InclusionNotice("security_failed", node_id, reason=reason))

    async def bootstrap_provisioned(self, node_id: int, entry: Provisioned) -> bool:
        """S2 for a node that joined by SmartStart: its entry's DSK, no PIN, any policy; True if secured."""
        self._sync_home()
        await self._bootstrap_s2(node_id, entry)
        return bool(self.granted(node_id))

    async def _bootstrap_s2(self, node_id: int, entry: Provisioned | None = None) -> None:
        private, public = x25519_keypair()
        allowed = frozenset(c for c in ORDER if c in self._keys.keys)
        if entry is not None and entry.classes is not None:
            allowed &= entry.classes  # a SmartStart entry grants at most what its QR code requested
        boot = self._boot = _Bootstrap(node_id, s2=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + kex.TA
        state, actions = kex.start(allowed, private, public)
        try:
            while True:
                for action in actions:
                    if isinstance(action, kex.AskPin) and (
                        known := entry or self.provisioning.match(state.node_public)
                    ):
                        # A provisioned (SmartStart) node: its registered DSK holds the PIN.
                        boot.awaiting_pin = True
                        boot.put(kex.PinEntered(int.from_bytes(known.key_bytes()[:2], "big")))
                        log.info("zwave: node %d is provisioned as %r; no PIN needed", node_id, known.name)
                        continue
                    deadline = await self._perform(boot, action, deadline)
                if state.finished:
                    return
                try:
                    event = await asyncio.wait_for(boot.events.get(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    event = kex.TimedOut()
                state, actions = kex.step(state, event)
                if entry is not None and state.node_public[2:16] not in (b"", entry.key_bytes()[2:]):
                    # A SmartStart node must show the DSK it is provisioned with (PIN bytes aside).
                    refused = kex.Refused("the node's public key is not its provisioned DSK")
                    state, actions = kex.step(state, refused)
        finally:
            self._boot = None
            self._s2.set_temp_key(node_id, None)
            self._s2.reset(node_id)

    async def _perform(self, boot: _Bootstrap, action: kex.Action, deadline: float) -> float:
        node_id = boot.node_id
        match action:
            case kex.Send(frame=frame, via=via):
                try:
                    if via is kex.PLAIN:
                        await self._send_plain(node_id, frame.encode())
                    else:
                        assert not isinstance(via, kex.Plain)
                        async with self._lock(node_id):
                            sealed = await self._seal_s2(node_id, frame.encode(), via)
                        await self._send_plain(node_id, sealed)
                except HubError as exc:
                    boot.put(kex.Cancelled())  # the node is gone: end the exchange
                    log.info("zwave: node %d: key exchange frame not delivered: %s", node_id, exc)
            case kex.SendNetworkKey(key=key):
                await self._perform(boot, kex.Send(NetworkKeyReport(key, self._keys[key]), None), deadline)
            case kex.ArmTimer(seconds=seconds):
                wait = self._pin_timeout if seconds == kex.TAI2 else seconds
                return asyncio.get_running_loop().time() + wait
            case kex.AskPin(dsk=dsk):
                boot.awaiting_pin = True
                self._notify(InclusionNotice("pin_required", node_id, dsk=dsk))
            case kex.InstallTempKey(keys=keys):
                boot.awaiting_pin = False
                self._s2.set_temp_key(node_id, keys)
                held, boot.held = boot.held, None
                if held is not None:
                    self._open_s2(node_id, held, boot)
            case kex.SetGranted(keys=keys):
                self._s2.set_granted(node_id, keys)
            case kex.ResetSpan():
                self._s2.reset(node_id)
            case kex.Finished(granted=granted):
                self._s2.set_temp_key(node_id, None)
                await self._grant(node_id, granted)
            case kex.Failed(reason=reason):
                self._s2.set_granted(node_id, ())
                self._failed(node_id, reason)
        return deadline

    async def _send_plain(self, node_id: int, frame: bytes) -> None:
        if self._transmit is None:
            raise DeliveryFailed("the security layer is not attached to a radio")
        await self._transmit(node_id, frame)

    async def _bootstrap_s0(self, node_id: int) -> None:
        """S0 inclusion (SDS10865): Scheme Get/Report, Network Key Set under the all-zero key, Verify."""
        boot = self._boot = _Bootstrap(node_id, s2=False)
        try:
            await self._send_plain(node_id, s0.scheme_get())
            report = await self._s0_expect(boot, s0.S0Command.SCHEME_REPORT)
            if report is None:
                return self._failed(node_id, "S0: no Scheme Report")
            async with self._lock(node_id):
                sealed = await self._seal_s0(
                    node_id, s0.network_key_set(self._keys[SecurityClass.S0_LEGACY]), temporary=True
                )
            await self._send_plain(node_id, sealed)
            if await self._s0_expect(boot, s0.S0Command.NETWORK_KEY_VERIFY) is None:
                return self._failed(node_id, "S0: the node did not verify the network key")
            await self._grant(node_id, frozenset({SecurityClass.S0_LEGACY}))
        except HubError as exc:
            self._failed(node_id, f"S0: {exc}")
        finally:
            self._boot = None

    async def _s0_expect(self, boot: _Bootstrap, command: s0.S0Command) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + S0_STEP_TIMEOUT
        while (left := deadline - loop.time()) > 0:
            try:
                frame = await asyncio.wait_for(boot.s0_frames.get(), left)
            except TimeoutError:
                return None
            if frame[:2] == bytes((s0.CC_SECURITY, command)):
                return frame
        return None


__all__ = ["InclusionNotice", "NotGranted", "ZWaveSecurity"]
