"""Cloud requests (commands, rules, snapshots, certificates, OTA offers): each answered exactly once.

Rules of this file: no sockets; both transports (WebSocket, MQTT) hand every request here with an
opaque `reply` (where the answer goes) and give a `send` coroutine. A request is either queued for
one of MAX_WORKERS workers or refused at once (`busy`, `rate_limited`), and the refusal is the
answer; nothing is dropped in silence. The queue is bounded (MAX_PENDING), the request rate is a
token bucket (burst, then `rate` per second), and refusals are logged through hub_core.ratelog so a
flood of 100,000 commands writes a handful of lines. Workers belong to the link, not to a
connection, so an answer finished during a reconnect waits (bounded) for the next connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub_agent.cloud.commands import CommandDesk
from hub_agent.cloud.protocol import (
    Certificate,
    CertStatus,
    CloudMessage,
    CommandMessage,
    CommandResultMessage,
    ErrorMessage,
    HubMessage,
    OtaAvailable,
    RuleProblemJSON,
    RulesDelete,
    RulesPut,
    RulesResult,
    SnapshotRequest,
    StateSnapshot,
)
from hub_agent.cloud.renewal import CertificateKeeper, iso
from hub_agent.runtime import Runtime
from hub_core import ratelog
from hub_core.backoff import Clock
from hub_core.errors import RuleError
from hub_core.model import JSONObject

log = logging.getLogger(__name__)

#: Requests handled at once (a command may wait on a slow radio for seconds).
MAX_WORKERS = 32
#: Requests waiting for a worker; beyond this the cloud gets `busy` at once.
MAX_PENDING = 256
#: Answers kept while there is no connection (the cloud may retry a command by id to get it).
MAX_UNSENT = 1000
#: Default request rate: a burst of BURST, then RATE per second.
RATE = 50.0
BURST = 200


@dataclass(frozen=True, slots=True)
class Request:
    """One request from the cloud and where its answer goes (transport specific, opaque here)."""

    message: CloudMessage
    reply: object = None


#: Sends one answer; returns False if there was no connection to send it on.
Sender = Callable[[HubMessage, object], Awaitable[bool]]


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second of the given clock."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock.monotonic()

    def take(self) -> bool:
        """Take one token if there is one."""
        now = self.clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def refusal(message: CloudMessage, code: str, text: str, not_after: str | None = None) -> HubMessage:
    """The answer that refuses `message` with `code`, in the shape the cloud waits for."""
    if isinstance(message, CommandMessage):
        return CommandResultMessage(message.id, "error", 0.0, code, text)
    if isinstance(message, RulesPut):
        rule_id = message.rule.get("id")
        return RulesResult(
            rule_id if isinstance(rule_id, str) else None, "error", message.request_id, code, text
        )
    if isinstance(message, RulesDelete):
        return RulesResult(message.id, "error", message.request_id, code, text)
    if isinstance(message, Certificate):
        return CertStatus("rejected", not_after, f"{code}: {text}")
    return ErrorMessage(code, text, message.type.value)


class RequestDesk:
    """Queues, runs and answers cloud requests; see the module docstring."""

    def __init__(
        self,
        runtime: Runtime,
        commands: CommandDesk,
        certificate: CertificateKeeper,
        send: Sender,
        clock: Clock,
        *,
        rate: float = RATE,
        burst: int = BURST,
    ) -> None:
        self.runtime = runtime
        self.commands = commands
        self.certificate = certificate
        self.send = send
        self.clock = clock
        self.rate = rate
        self.burst = burst
        #: Called with the body of each `ota_available` (the OTA part sets it).
        self.ota_handler: Callable[[JSONObject], Awaitable[None] | None] | None = None
        #: Awaited after the `installed` verdict was sent (the link reconnects to prove the certificate).
        self.on_installed: Callable[[CertStatus], Awaitable[None]] | None = None
        self.refused: dict[str, int] = {}
        self.answers_dropped = 0
        self._queue: asyncio.Queue[Request] = asyncio.Queue(MAX_PENDING)
        self._unsent: deque[tuple[HubMessage, object]] = deque()
        self._snapshot_pending = False
        self._cert_lock = asyncio.Lock()
        self._bucket = TokenBucket(rate, burst, clock)

    def new_connection(self) -> None:
        """A fresh connection gets a fresh burst allowance."""
        self._bucket = TokenBucket(self.rate, self.burst, self.clock)

    async def run(self) -> None:
        """The workers; run for the link's lifetime."""
        async with asyncio.TaskGroup() as group:
            for n in range(MAX_WORKERS):
                group.create_task(self._worker(), name=f"cloud-request-{n}")

    async def submit(self, request: Request) -> None:
        """Queue `request`, or answer it with a refusal right away (awaiting the send: back-pressure)."""
        message = request.message
        if not self._bucket.take():
            await self._refuse(request, "rate_limited", "the cloud sends requests faster than allowed")
            return
        if isinstance(message, SnapshotRequest) and self._snapshot_pending:
            await self._refuse(request, "busy", "a state snapshot is already on its way")
            return
        try:
            self._queue.put_nowait(request)
        except asyncio.QueueFull:
            await self._refuse(request, "busy", "the hub is running too many cloud requests")
            return
        if isinstance(message, SnapshotRequest):
            self._snapshot_pending = True

    async def _refuse(self, request: Request, code: str, text: str) -> None:
        self.refused[code] = self.refused.get(code, 0) + 1
        ratelog.log(
            log,
            f"cloud.refused.{code}",
            logging.WARNING,
            "cloud link: refused a %s (%s); further refusals are summarised",
            request.message.type.value,
            code,
        )
        answer = refusal(request.message, code, text, iso(self.certificate.not_after))
        await self.answer(answer, request.reply)

    async def answer(self, message: HubMessage, reply: object) -> None:
        """Send an answer now, or keep it (bounded) for the next connection."""
        if await self.send(message, reply):
            return
        if len(self._unsent) >= MAX_UNSENT:
            self._unsent.popleft()
            self.answers_dropped += 1
            ratelog.log(
                log,
                "cloud.answer_dropped",
                logging.WARNING,
                "cloud link: %d answers waited for a connection; dropped the oldest",
                MAX_UNSENT,
            )
        self._unsent.append((message, reply))

    async def flush_unsent(self) -> None:
        """Send the answers kept while the link was down (call once a connection is open)."""
        while self._unsent:
            message, reply = self._unsent[0]
            if not await self.send(message, reply):
                return
            self._unsent.popleft()

    async def _worker(self) -> None:
        while True:
            request = await self._queue.get()
            try:
                answer = await self._handle(request.message)
            except Exception as exc:
                # A request must be answered even when something breaks; this is the last resort.
                log.exception("cloud %s failed", request.message.type.value)
                answer = refusal(request.message, "internal", f"{type(exc).__name__}: {exc}")
            if answer is not None:
                await self.answer(answer, request.reply)
            if isinstance(answer, CertStatus) and answer.status == "installed" and self.on_installed:
                await self.on_installed(answer)

    async def _handle(self, message: CloudMessage) -> HubMessage | None:
        if isinstance(message, CommandMessage):
            return await self.commands.handle(message)
        if isinstance(message, RulesPut):
            return await self._rules_put(message)
        if isinstance(message, RulesDelete):
            return await self._rules_delete(message)
        if isinstance(message, SnapshotRequest):
            self._snapshot_pending = False
            return self.snapshot()
        if isinstance(message, Certificate):
            return await self._install_certificate(message)
        if isinstance(message, OtaAvailable):
            await self._ota(message)
            return None
        return ErrorMessage("unexpected", f"{message.type.value} is not a request", message.type.value)

    def snapshot(self) -> StateSnapshot:
        """Every device with its current state."""
        return StateSnapshot([device.to_json() for device in self.runtime.hub.devices()])

    async def _rules_put(self, message: RulesPut) -> RulesResult:
        rule_id = message.rule.get("id") if isinstance(message.rule.get("id"), str) else None
        rules = self.runtime.rules
        if rules is None:
            return RulesResult(rule_id, "error", message.request_id, "rules_disabled", "rules are disabled")
        try:
            stored = await rules.put_rule(message.rule)
        except RuleError as exc:
            problems = tuple(RuleProblemJSON(p.path, p.message) for p in exc.problems)
            return RulesResult(rule_id, "error", message.request_id, "invalid_rule", str(exc), problems)
        return RulesResult(str(stored.get("id", rule_id)), "ok", message.request_id)

    async def _rules_delete(self, message: RulesDelete) -> RulesResult:
        rules = self.runtime.rules
        if rules is None:
            return RulesResult(
                message.id, "error", message.request_id, "rules_disabled", "rules are disabled"
            )
        if await rules.delete_rule(message.id):
            return RulesResult(message.id, "ok", message.request_id)
        return RulesResult(message.id, "error", message.request_id, "not_found", f"no rule {message.id!r}")

    async def _ota(self, message: OtaAvailable) -> None:
        self.runtime.facts["ota_offer"] = message.offer
        log.info("cloud offers an update (%d fields)", len(message.offer))
        if self.ota_handler is not None:
            outcome = self.ota_handler(message.offer)
            if outcome is not None:
                await outcome

    async def _install_certificate(self, message: Certificate) -> CertStatus:
        async with self._cert_lock:  # two certificates at once must not race on the files
            return self.certificate.install(message)
