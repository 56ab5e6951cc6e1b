"""Logging set-up: one line per record, UTC timestamps, logger name as context, a TRACE level for bytes."""

from __future__ import annotations

import logging
import re
import sys
import time

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


#: Control characters (C0 but tab, DEL, C1) and lone surrogates: escaped in messages, so text from
#: the network (a path with %0A, a header) can never forge a log line or break the journal's UTF-8.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def escape(text: str) -> str:
    """`text` with control characters and lone surrogates as `\\xNN`/`\\uNNNN` escapes."""
    return _UNSAFE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


class _Formatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        # The message is escaped, not the traceback (formatException) that follows it.
        record.message = escape(record.message)
        return super().formatMessage(record)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def setup_logging(level: str = "info", *, stream: object = None) -> None:
    """Send records at `level` and above to stderr (journald adds its own timestamps, ours are UTC)."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
