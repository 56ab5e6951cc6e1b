"""What the host knows about each node, persisted per network so a restart does not re-interview.

Rules of this file: `NodeRecord` is plain data (JSON in, JSON out); `NodeStore` writes the whole
file atomically (temp file, fsync, rename, fsync of the directory) so a power cut leaves the old or
the new file, never half of one. Nothing here sends anything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_core.model import DeviceId
from radios.zwave.cc.capabilities import NodeCapabilities

log = logging.getLogger(__name__)

FILE_VERSION = 1


@dataclass(slots=True)
class NodeRecord:
    """One node: protocol facts (protocol info, NIF) and what the interview learnt (`caps`)."""

    node_id: int
    listening: bool = True
    frequent_listening: bool = False
    generic: int = 0
    specific: int = 0
    caps: NodeCapabilities = field(default_factory=NodeCapabilities)
    lifeline: bool = False
    interviewed: bool = False

    @property
    def sleeping(self) -> bool:
        """A battery node that is reachable only when it wakes up."""
        return not self.listening and not self.frequent_listening

    def supports(self, cc: int) -> bool:
        """True if the node listed `cc` in its NIF."""
        return self.caps.supports(cc)

    def version(self, cc: int) -> int:
        """The interviewed version of `cc` (1 when supported but not asked, 0 when unsupported)."""
        return self.caps.version(cc)

    def device_id(self, endpoint: int = 0) -> DeviceId:
        """`zwave-<node>`, or `zwave-<node>-<endpoint>` for an end point of a Multi Channel node."""
        return DeviceId(f"zwave-{self.node_id}-{endpoint}" if endpoint else f"zwave-{self.node_id}")

    def device_ids(self) -> list[DeviceId]:
        """The node's device and one per Multi Channel end point."""
        return [self.device_id(ep) for ep in (0, *sorted(self.caps.endpoints))]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "node_id": self.node_id,
            "listening": self.listening,
            "frequent_listening": self.frequent_listening,
            "generic": self.generic,
            "specific": self.specific,
            "caps": self.caps.to_json(),
            "lifeline": self.lifeline,
            "interviewed": self.interviewed,
        }

    @classmethod
    def from_json(cls, data: Any) -> NodeRecord:
        """Inverse of `to_json`; raise ValueError/KeyError/TypeError on a malformed record."""
        if not isinstance(data, dict):
            raise TypeError("a node record must be an object")
        return cls(
            node_id=int(data["node_id"]),
            listening=bool(data.get("listening", True)),
            frequent_listening=bool(data.get("frequent_listening", False)),
            generic=int(data.get("generic", 0)),
            specific=int(data.get("specific", 0)),
            caps=NodeCapabilities.from_json(data.get("caps", {})),
            lifeline=bool(data.get("lifeline", False)),
            interviewed=bool(data.get("interviewed", False)),
        )


class NodeStore:
    """The node records of one Z-Wave network (home id), in `<data_dir>/zwave-<home id>.json`."""

    def __init__(self, data_dir: Path, home_id: int) -> None:
        self.path = Path(data_dir) / f"zwave-{home_id:08x}.json"

    def load(self) -> dict[int, NodeRecord]:
        """Every stored record; a missing or unreadable file yields none (the nodes are re-interviewed)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("zwave: ignoring unreadable node file %s: %s", self.path, exc)
            return {}
        records: dict[int, NodeRecord] = {}
        if not isinstance(raw, dict) or raw.get("version") != FILE_VERSION:
            log.warning("zwave: ignoring node file %s of unknown version", self.path)
            return {}
        for key, data in raw.get("nodes", {}).items():
            try:
                record = NodeRecord.from_json(data)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("zwave: ignoring malformed record for node %s: %s", key, exc)
                continue
            records[record.node_id] = record
        return records

    def save(self, records: dict[int, NodeRecord]) -> None:
        """Replace the file with `records`, atomically and durably (blocking: run it in a thread)."""
        data = {
            "version": FILE_VERSION,
            "nodes": {str(n): r.to_json() for n, r in sorted(records.items())},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
