"""CLI commands that write the agent's files (`token create`, `provision`) run as the agent's user.

Run as root, they would create root-owned 0600 files the agent (user `hub-agent` under systemd)
cannot open. So, as root, they first become the owner of the data folder (the agent's user, set up
by the unit's StateDirectory or tmpfiles); if that folder does not exist yet but the agent's user
does, they refuse and print the command to run instead. A root-owned data folder means the agent
itself runs as root (development, containers): nothing to change then.
"""

from __future__ import annotations

import logging
import os
import pwd
import shlex
import sys
from pathlib import Path

from hub_core.errors import HubError

log = logging.getLogger(__name__)

#: The user the packaged unit runs the agent as (systemd/hub-agent.sysusers).
AGENT_USER = "hub-agent"


def become_data_owner(data_dir: Path, argv: list[str] | None = None, agent_user: str = AGENT_USER) -> None:
    """As root, switch to the data folder's owner for the rest of the process (see module rules)."""
    if os.geteuid() != 0:
        return
    try:
        info = os.stat(data_dir)
    except FileNotFoundError:
        try:
            pwd.getpwnam(agent_user)
        except KeyError:
            return  # no packaged agent user on this machine: the agent runs as whoever runs it
        command = shlex.join(["sudo", "-u", agent_user, "hub-agent", *(argv or sys.argv[1:])])
        raise HubError(
            f"refusing to create {data_dir} as root: the agent (user {agent_user}) could not read it; "
            f"start the agent once (systemctl start hub-agent) so its folder exists, or run: {command}"
        ) from None
    if info.st_uid == 0:
        return
    os.setgroups([])
    os.setgid(info.st_gid)
    os.setuid(info.st_uid)
    log.debug("running as uid %d (the owner of %s)", info.st_uid, data_dir)
