"""Power-cut injection for the OTA power-cut tests: `HUB_AGENT_OTA_KILL_AT=<point>` SIGKILLs the agent there.

Each `point(name)` marks a step where a power cut must leave a bootable good slot (tests/ota/
test_ota_powercut.py kills the agent at every one). Unset (always, outside that test), a point costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "HUB_AGENT_OTA_KILL_AT"

#: Every point, in the order an update passes them.
POINTS = (
    "check:start",
    "check:refreshed",
    "download:partial",
    "download:verified",
    "install:intent-saved",
    "dir:slot-marked-writing",
    "dir:bundle-moved",
    "dir:primary-switched",
    "install:installed-saved",
    "boot:trial",
    "health:marked-good",
    "health:marked-bad",
    "health:bad-saved",
)


def point(name: str) -> None:
    """SIGKILL this process if the power-cut test asked for `name`."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
