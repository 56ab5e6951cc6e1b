"""Start and drive zwave-js's MockController (tests/peers/zwave/launcher.mjs) from tests and benchmarks.

The launcher serves the mock's serial port on a 127.0.0.1 TCP port (pyserial: `socket://127.0.0.1:<port>`)
and takes control commands as JSON lines on stdin (see the launcher's header). `ZWavePeer` owns the
process: `start()` waits for the port, `command()` sends one control command and waits for its answer,
`stop()` asks it to quit and reaps it. Nothing here listens on anything but loopback.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

log = logging.getLogger(__name__)

PEER_DIR = Path(__file__).resolve().parents[1] / "peers" / "zwave"
LAUNCHER = PEER_DIR / "launcher.mjs"
INSTALL_HINT = "run: npm ci --prefix tests/peers/zwave"


def household() -> list[dict[str, Any]]:
    """The default mock household (MockNode options with a "kind"), as the launcher uses it."""
    nodes: list[dict[str, Any]] = json.loads((PEER_DIR / "household.json").read_text())
    return nodes


def household_node(kind: str) -> dict[str, Any]:
    """The default household's node of this kind (switch, dimmer, multisensor, lock, ...)."""
    for node in household():
        if node["kind"] == kind:
            return node
    raise KeyError(kind)


@dataclass(frozen=True, slots=True)
class LinkFrame:
    """One Serial API frame as the mock saw it: when (monotonic ns), from the host or not, type, function."""

    t: int
    from_host: bool
    kind: int  # 0x00 request, 0x01 response
    function: int
    head: bytes  # up to 8 payload bytes (SendData: node id, length, the CC's first bytes)


class PeerMissing(RuntimeError):
    """Node.js or the peer's npm packages are not installed; the message says what to run."""


class PeerError(RuntimeError):
    """The peer failed to start or refused a control command."""


def check_installed() -> str:
    """The path of `node`; raise PeerMissing naming the fix if node or node_modules is missing."""
    node = shutil.which("node")
    if node is None:
        raise PeerMissing(
            f"the zwave-js mock needs Node.js 20+ on PATH ('node' not found); then {INSTALL_HINT}"
        )
    if not (PEER_DIR / "node_modules" / "zwave-js" / "package.json").is_file():
        raise PeerMissing(f"the zwave-js mock's npm packages are not installed; {INSTALL_HINT}")
    return node


class ZWavePeer:
    """One launcher process: a mock Z-Wave controller with mock nodes on a loopback TCP port."""

    def __init__(
        self,
        nodes: list[dict[str, Any]] | None = None,
        *,
        launcher: Path = LAUNCHER,
        args: tuple[str, ...] = (),
    ) -> None:
        self._nodes = nodes
        self._launcher = launcher  # e.g. s2_launcher.mjs: the same launcher with network keys
        self._args = args
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._nodes_file: str | None = None
        self._reader: threading.Thread | None = None
        self._answers: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._eof = False
        self.port = 0

    # --- life cycle ---

    def start(self, timeout: float = 30.0) -> None:
        """Start the launcher and wait until it prints its port; PeerMissing/PeerError if it cannot."""
        node = check_installed()
        argv = [node, str(self._launcher), *self._args, "--host", "127.0.0.1", "--port", "0"]
        if self._nodes is not None:
            fd, self._nodes_file = tempfile.mkstemp(prefix="zwave-nodes-", suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump(self._nodes, f)
            argv += ["--nodes", self._nodes_file]
        # Kept open for the process's lifetime (closed in stop()), so no context manager.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self._proc = subprocess.Popen(
            argv,
            cwd=PEER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        assert self._proc.stdout is not None
        first: list[str] = []
        got_port = threading.Event()

        def read() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                if not got_port.is_set():
                    first.append(line)
                    got_port.set()
                    continue
                try:
                    answer = json.loads(line)
                except ValueError:
                    log.warning("zwave peer wrote a non-JSON line: %r", line)
                    continue
                with self._cond:
                    self._answers[int(answer.get("id") or 0)] = answer
                    self._cond.notify_all()
            with self._cond:
                self._eof = True
                self._cond.notify_all()
            got_port.set()

        self._reader = threading.Thread(target=read, name="zwave-peer-reader", daemon=True)
        self._reader.start()
        if not got_port.wait(timeout) or not first or not first[0].strip().isdigit():
            output = self.stderr_text()
            self.stop()
            raise PeerError(f"the zwave-js mock did not start within {timeout:.0f} s:\n{output}")
        self.port = int(first[0])

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the launcher to quit, kill it if it does not, and release everything; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(json.dumps({"id": 0, "cmd": "quit"}) + "\n")
                    proc.stdin.flush()
                    proc.stdin.close()
                except (BrokenPipeError, OSError):
                    pass
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout)
            elif proc.stdin is not None:
                proc.stdin.close()
            if self._reader is not None:
                self._reader.join(timeout)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._nodes_file is not None:
            os.unlink(self._nodes_file)
            self._nodes_file = None

    def __enter__(self) -> ZWavePeer:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The pyserial URL of the mock's serial port."""
        return f"socket://127.0.0.1:{self.port}"

    def stderr_text(self) -> str:
        """What the launcher logged so far (for failure messages)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read()
        self._stderr.seek(0, os.SEEK_END)
        return text

    # --- control commands ---

    def command(self, cmd: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        """Send one control command and return its answer; PeerError if it failed."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise PeerError("the zwave-js mock is not running")
        request_id = next(self._ids)
        with self._write_lock:
            proc.stdin.write(json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n")
            proc.stdin.flush()
        with self._cond:
            if not self._cond.wait_for(lambda: request_id in self._answers or self._eof, timeout):
                raise PeerError(f"no answer to {cmd!r} within {timeout} s")
            if request_id not in self._answers:
                raise PeerError(f"the zwave-js mock exited during {cmd!r}:\n{self.stderr_text()}")
            answer = self._answers.pop(request_id)
        if not answer.get("ok"):
            raise PeerError(f"{cmd}: {answer.get('error')}")
        return answer

    async def acommand(self, cmd: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        """`command` without blocking the event loop."""
        return await asyncio.to_thread(self.command, cmd, timeout, **args)

    def reset(self, nodes: list[dict[str, Any]] | str = "household") -> None:
        """A fresh network on the running process: no client, these MockNode options (or "household")."""
        self.command("reset", nodes=nodes)

    async def report(self, node: int, cc: bytes, endpoint: int = 0) -> int:
        """Node `node` sends the CC bytes `cc` (CC id, command, payload) to the controller, unsolicited;
        returns when the frame left, in the mock's monotonic nanoseconds (for benchmarks)."""
        answer = await self.acommand("report", node=node, cc=cc.hex(), endpoint=endpoint)
        return int(answer.get("t", 0))

    async def set_state(self, node: int, key: str, value: Any) -> None:
        """Set a mock node's state entry (e.g. `BinarySwitch_currentValue`, `Sensor_1_0`, `Battery_level`)."""
        await self.acommand("state", node=node, key=key, value=value)

    async def get_state(self, node: int, key: str) -> Any:
        """A mock node's state entry, or None."""
        return (await self.acommand("get_state", node=node, key=key))["value"]

    async def wakeup(self, node: int) -> None:
        """A sleeping node wakes up and sends Wake Up Notification."""
        await self.acommand("wakeup", node=node)

    async def include(self, node: dict[str, Any]) -> None:
        """The next AddNodeToNetwork includes a node with these MockNode options."""
        await self.acommand("include", node=node)

    async def exclude(self, node: int) -> None:
        """The next RemoveNodeFromNetwork excludes node `node`."""
        await self.acommand("exclude", node=node)

    async def vanish(self, ms: int) -> None:
        """Drop the connection and refuse new ones for `ms` milliseconds (the stick was unplugged)."""
        await self.acommand("vanish", ms=ms)

    async def vanish_on_send(self, node: int, ms: int) -> None:
        """Vanish for `ms` when the host's next SendData to `node` arrives (mid-transaction)."""
        await self.acommand("vanish_on_send", node=node, ms=ms)

    async def wait_listening(self) -> None:
        """Return once the port accepts connections again (after `vanish`)."""
        await self.acommand("listening")

    async def received(self, node: int) -> list[bytes]:
        """Every CC the host sent node `node` with SendData, oldest first."""
        return [bytes.fromhex(h) for h in (await self.acommand("received", node=node))["ccs"]]

    async def handed_times(self, node: int) -> list[int]:
        """When each frame from node `node` was written to the host (monotonic ns, for benchmarks)."""
        return [int(t) for t in (await self.acommand("handed", node=node))["t"]]

    async def received_times(self, node: int) -> list[tuple[bytes, int]]:
        """Every CC the host sent node `node`, with when its SendData reached the mock (monotonic ns)."""
        answer = await self.acommand("received", node=node)
        return [(bytes.fromhex(h), int(t)) for h, t in zip(answer["ccs"], answer["t"], strict=True)]

    async def link_frames(self) -> list[LinkFrame]:
        """Every Serial API frame on the link since the last reset, oldest first (for benchmarks)."""
        frames = (await self.acommand("link"))["frames"]
        return [
            LinkFrame(int(t), side == "h", kind, function, bytes.fromhex(head))
            for t, side, kind, function, head in frames
        ]

    def errors(self) -> list[str]:
        """What the mock refused or choked on since the last call or reset (e.g. a request while busy)."""
        return [str(e) for e in self.command("errors")["errors"]]

    async def nodes(self) -> list[int]:
        """Node ids in the mock network."""
        return [int(n) for n in (await self.acommand("nodes"))["nodes"]]
