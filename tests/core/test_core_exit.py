"""A stopped agent exits even if a library left a non-daemon thread behind (the process must not hang)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import threading
    from hub_agent.cli import exit_despite_stuck_threads

    never = threading.Event()
    threading.Thread(target=never.wait, name="db-worker", daemon=False).start()
    exit_despite_stuck_threads(3, grace=0.2)
    raise SystemExit(99)  # not reached: the stuck thread made it exit with the agent's code
    """
)

CLEAN = textwrap.dedent(
    """
    import threading
    from hub_agent.cli import exit_despite_stuck_threads

    done = threading.Thread(target=lambda: None, name="quick", daemon=False)
    done.start()
    exit_despite_stuck_threads(3, grace=5)
    raise SystemExit(0)  # nothing stuck: the normal exit path goes on
    """
)


def test_a_stuck_non_daemon_thread_does_not_keep_the_process_alive() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )
    assert result.returncode == 3
    assert "exiting with 1 thread(s) still running (db-worker)" in result.stderr


def test_without_stuck_threads_the_normal_exit_goes_on() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CLEAN], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
