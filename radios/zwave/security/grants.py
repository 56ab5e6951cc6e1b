"""Which security classes each node was granted, per Z-Wave network (home id), kept in a small JSON file.

The stick remembers nodes but not their keys, so the hub persists the grants: `zwave-security.json`
in the data directory, `{"<home id hex>": {"<node id>": ["S2_AccessControl", ...]}}`, written
atomically with mode 0600. It is read once, before the radio starts; writes happen when a node is
bootstrapped or excluded. Unknown class names in the file are ignored (a newer version wrote them).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hub_core.secretfile import write_secret

from .classes import BY_NAME, ORDER, SecurityClass

_log = logging.getLogger(__name__)
MAX_FILE_BYTES = 256 * 1024


class GrantStore:
    """Granted classes by (home id, node id), mirrored in a JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._homes: dict[str, dict[int, frozenset[SecurityClass]]] = {}
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()[:MAX_FILE_BYTES]
            doc = json.loads(raw)
        except FileNotFoundError:
            return
        except (OSError, ValueError, RecursionError) as exc:
            # Losing grants makes secure nodes unreachable until re-included: say so loudly.
            _log.error("zwave: cannot read %s (%s); secure nodes need re-inclusion", path, exc)
            return
        if not isinstance(doc, dict):
            return
        for home, nodes in doc.items():
            if not isinstance(nodes, dict):
                continue
            table = self._homes.setdefault(str(home), {})
            for node, names in nodes.items():
                if str(node).isdigit() and isinstance(names, list):
                    table[int(node)] = frozenset(
                        BY_NAME[n] for n in names if isinstance(n, str) and n in BY_NAME
                    )

    def of(self, home_id: int, node_id: int) -> frozenset[SecurityClass]:
        """The classes granted to `node_id` in network `home_id`."""
        return self._homes.get(f"{home_id:08x}", {}).get(node_id, frozenset())

    def home(self, home_id: int) -> dict[int, frozenset[SecurityClass]]:
        """Every node's grants in network `home_id`."""
        return dict(self._homes.get(f"{home_id:08x}", {}))

    def set(self, home_id: int, node_id: int, classes: frozenset[SecurityClass]) -> None:
        """Record (or with an empty set, drop) a node's grants; call `save()` to persist."""
        table = self._homes.setdefault(f"{home_id:08x}", {})
        if classes:
            table[node_id] = classes
        else:
            table.pop(node_id, None)

    def save(self) -> None:
        """Write the file atomically (0600); blocking, so run it off the event loop."""
        if self.path is None:
            return
        doc = {
            home: {str(n): [c.wire_name for c in ORDER if c in cls] for n, cls in sorted(nodes.items())}
            for home, nodes in self._homes.items()
        }
        write_secret(self.path, json.dumps(doc, indent=1).encode() + b"\n")
