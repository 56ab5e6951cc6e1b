"""Over-the-air updates: TUF-verified bundles written to the inactive A/B slot, proven healthy or rolled back.

Modules, one job each: `versions` (semver), `https` (TLS context and the TUF fetcher), `metadata` (TUF
ngclient: which update is offered), `download` (resumable, bounded, hash-verified download), `state`
(what survives a power cut, written atomically), `backend` (the slot interface), `dirslots` and `rauc`
(its two implementations), `health` (the post-boot proof), `service` (the part that ties them together),
`control` (the CLI's socket). Imported only when `[ota]` is configured.
"""

from __future__ import annotations

#: The agent exits with this code when it must "reboot": a new slot was made primary, or a slot that
#: failed its health window was marked bad. systemd restarts it (Restart=always); the dir backend's
#: boot step then runs the slot the pointer names.
EXIT_REBOOT = 75
