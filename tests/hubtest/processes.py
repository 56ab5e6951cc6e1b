"""Signalling an asyncio child process without racing asyncio's own child watcher.

`asyncio.subprocess.Process.send_signal()`, `.terminate()` and `.kill()` call `Popen.poll()` first, and
`poll()` reaps a child that has just exited, before asyncio's child watcher can. The watcher then logs
"Unknown child process pid N, will report returncode 255" and `wait()` returns 255 instead of the real
status. `signal_child` sends the signal with `os.kill`, which never reaps: the watcher stays the only
one that waits for the child.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal


def signal_child(process: asyncio.subprocess.Process, signum: int = signal.SIGTERM) -> None:
    """Send `signum` to `process` unless asyncio has already reaped it (a no-op then)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)
