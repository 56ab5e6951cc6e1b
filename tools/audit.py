"""Dependency audit: every pin in constraints.txt against the OSV advisories for PyPI, with pip-audit.

pip-audit (PyPA) asks an OSV-protocol service about each pinned version. Online it asks api.osv.dev.
Offline (a hub's build machine, this CI) it asks a small OSV-protocol server this script runs on
127.0.0.1, which answers from a local copy of the advisory database:

    the OSV export for PyPI, a zip of OSV JSON records, updated daily:
        https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip
    or a folder of OSV JSON records (e.g. a clone of github.com/pypa/advisory-database)

    python tools/audit.py               # the copy at $HUB_AUDIT_DB or ~/.cache/hub-agent/osv-PyPI.zip
    python tools/audit.py --db all.zip  # a given copy
    python tools/audit.py --online      # api.osv.dev directly

Exit 0: no pinned version has a known advisory. Exit 1: pip-audit's report names each one. Exit 3: no
advisory database here and not --online: nothing was checked; says so in one line (HUB_AUDIT_REQUIRED=1
turns that into a failure, for release builds).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = Path.home() / ".cache" / "hub-agent" / "osv-PyPI.zip"
NOT_RUN = 3
MAX_QUERY = 64 * 1024


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _records(db: Path) -> Iterator[dict[str, Any]]:
    if db.is_dir():
        for path in sorted(db.rglob("*.json")):
            yield json.loads(path.read_text(encoding="utf-8"))
        return
    with zipfile.ZipFile(db) as archive:
        for name in archive.namelist():
            if name.endswith(".json"):
                yield json.loads(archive.read(name))


def load(db: Path) -> dict[str, list[dict[str, Any]]]:
    """Advisories by canonical PyPI package name."""
    index: dict[str, list[dict[str, Any]]] = {}
    for record in _records(db):
        names = {
            canonical(a["package"]["name"])
            for a in record.get("affected", [])
            if a.get("package", {}).get("ecosystem") == "PyPI"
        }
        for name in names:
            index.setdefault(name, []).append(record)
    return index


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def affects(record: dict[str, Any], name: str, version: Version) -> bool:
    """Whether an OSV record covers `name` at `version` (listed versions, or ECOSYSTEM ranges)."""
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != "PyPI" or canonical(package.get("name", "")) != name:
            continue
        if any(_version(v) == version for v in affected.get("versions", [])):
            return True
        for span in affected.get("ranges", []):
            if span.get("type") != "ECOSYSTEM":
                continue
            events: list[tuple[Version, str]] = []
            for event in span.get("events", []):
                for kind, at in event.items():
                    point = Version("0") if at == "0" else _version(str(at))
                    if point is not None:
                        events.append((point, kind))
            hit = False
            for point, kind in sorted(events):
                if kind == "introduced" and version >= point:
                    hit = True
                elif (kind == "fixed" and version >= point) or (kind == "last_affected" and version > point):
                    hit = False
            if hit:
                return True
    return False


class _Handler(BaseHTTPRequestHandler):
    index: dict[str, list[dict[str, Any]]] = {}

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.path != "/v1/query" or not 0 < length <= MAX_QUERY:
            self.send_error(400)
            return
        try:
            query = json.loads(self.rfile.read(length))
            name = canonical(query["package"]["name"])
            version = Version(query["version"])
        except (ValueError, KeyError, TypeError, InvalidVersion):
            self.send_error(400)
            return
        vulns = [r for r in self.index.get(name, []) if affects(r, name, version)]
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def osv_server(index: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    """An OSV `/v1/query` endpoint on 127.0.0.1 answering from `index`; yields its URL."""
    handler = type("Handler", (_Handler,), {"index": index})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="osv-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def pip_audit(requirements: Path, osv_url: str | None) -> int:
    """Run pip-audit on pinned requirements (no resolution, no network but the OSV service)."""
    with tempfile.TemporaryDirectory() as cache:
        command = [
            sys.executable, "-m", "pip_audit", "--requirement", str(requirements), "--no-deps",
            "--disable-pip", "--vulnerability-service", "osv", "--progress-spinner", "off",
            "--cache-dir", cache, "--strict", "--desc", "on",
        ]  # fmt: skip
        if osv_url is not None:
            command += ["--osv-url", osv_url]
        return subprocess.run(command, check=False, timeout=600).returncode


def main(argv: list[str] | None = None) -> int:
    """Audit; see the module docstring for the exit codes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("HUB_AUDIT_DB", DEFAULT_DB)))
    parser.add_argument("--online", action="store_true", help="ask api.osv.dev instead of a local copy")
    parser.add_argument("--requirements", type=Path, default=ROOT / "constraints.txt")
    args = parser.parse_args(argv)
    if args.online:
        return pip_audit(args.requirements, None)
    if not args.db.exists():
        print(
            f"dependency audit NOT RUN: no advisory database at {args.db} (download the OSV PyPI export "
            "to it, or set HUB_AUDIT_DB, or use --online; docs/security.md)",
            file=sys.stderr,
        )
        return 1 if os.environ.get("HUB_AUDIT_REQUIRED") == "1" else NOT_RUN
    index = load(args.db)
    print(f"dependency audit: {sum(map(len, index.values()))} advisories from {args.db}", file=sys.stderr)
    with osv_server(index) as url:
        return pip_audit(args.requirements, url)


if __name__ == "__main__":
    sys.exit(main())
