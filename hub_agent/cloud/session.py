"""The hub's side of one cloud connection, sans-I/O: hello first, then welcome, then checked acks.

Rules of this file: no sockets, no asyncio, no clock. The session refuses what would corrupt the
outbox: a welcome or ack for a seq the hub never issued (it would make the next seq jump past
anything the hub sent, up to SQLite's int64 limit) raises SeqOutOfRange, and the link answers it
with an `error` and a reconnect. Both transports (WebSocket and MQTT) use this class.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from hub_agent.cloud.fields import OutOfOrder, SeqOutOfRange
from hub_agent.cloud.protocol import Ack, CloudMessage, Hello, Welcome, decode_from_cloud, encode


class SessionState(StrEnum):
    """Where one connection is, from the hub's point of view."""

    AWAITING_WELCOME = "awaiting_welcome"
    OPEN = "open"


class HubSession:
    """The hub side of one connection: sends hello first, accepts nothing but welcome until then.

    `last_seq` returns the highest seq the hub has issued (and could have sent); acks beyond it are
    refused. Without it, any seq up to 2**63-1 is accepted (for tools that hold no outbox).
    """

    def __init__(self, hello: Hello, last_seq: Callable[[], int] | None = None) -> None:
        self.hello = hello
        self.state = SessionState.AWAITING_WELCOME
        self.acked_seq = 0
        self._last_seq = last_seq

    def start(self) -> str:
        """The first frame to send."""
        return encode(self.hello)

    def receive(self, text: str | bytes) -> CloudMessage:
        """Parse one frame from the cloud in the session's context; raise ProtocolError on misuse."""
        return self.accept(decode_from_cloud(text))

    def accept(self, message: CloudMessage) -> CloudMessage:
        """Check an already parsed message against the session (the MQTT transport parses per topic)."""
        if self.state is SessionState.AWAITING_WELCOME:
            if not isinstance(message, Welcome):
                raise OutOfOrder(f"expected welcome first, got {message.type.value}")
            self._check_seq("welcome acked_seq", message.acked_seq)
            self.state = SessionState.OPEN
            self.acked_seq = message.acked_seq
        elif isinstance(message, Welcome):
            raise OutOfOrder("a second welcome on the same connection")
        elif isinstance(message, Ack):
            self._check_seq("ack seq", message.seq)
            # Acks never go backwards: a stale or reordered ack acknowledges nothing new.
            self.acked_seq = max(self.acked_seq, message.seq)
        return message

    def _check_seq(self, what: str, seq: int) -> None:
        if self._last_seq is None:
            return
        last = self._last_seq()
        if seq > last:
            raise SeqOutOfRange(
                f"{what} {seq} is beyond the last seq this hub issued ({last}); "
                "the cloud's record of this hub is not this hub's"
            )
