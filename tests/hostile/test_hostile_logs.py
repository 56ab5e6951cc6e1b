"""Logs an attacker cannot flood or forge: per-cause budgets with a summary, control characters escaped."""

from __future__ import annotations

import io
import logging

import pytest

from hub_agent.logs import escape, setup_logging
from hub_core.ratelog import MAX_CAUSES, OVERFLOW_CAUSE, LogLimiter


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_one_cause_writes_the_burst_then_one_summary(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    limiter = LogLimiter(interval=60.0, burst=3, clock=clock)
    logger = logging.getLogger("hostile.flood")
    with caplog.at_level(logging.INFO, logger="hostile.flood"):
        written = [limiter.log(logger, "flood", logging.WARNING, "bad input %d", i) for i in range(10_000)]
        assert written.count(True) == 3
        assert [r.getMessage() for r in caplog.records] == ["bad input 0", "bad input 1", "bad input 2"]
        clock.now += 60.0
        assert limiter.flush() == 1
    assert caplog.records[-1].getMessage().startswith("9997 more 'flood' lines held back in the last 60 s")
    assert caplog.records[-1].levelno == logging.WARNING
    assert limiter.counts == {"flood": 10_000}
    assert limiter.suppressed == {"flood": 9_997}


def test_the_next_interval_gets_a_fresh_budget_and_the_summary_comes_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    limiter = LogLimiter(interval=10.0, burst=1, clock=clock)
    logger = logging.getLogger("hostile.next")
    with caplog.at_level(logging.INFO, logger="hostile.next"):
        for _ in range(5):
            limiter.log(logger, "c", logging.INFO, "line")
        clock.now += 10.0
        limiter.log(logger, "c", logging.INFO, "line")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "line"
    assert messages[1].startswith("4 more 'c' lines held back")
    assert messages[2] == "line"


def test_causes_are_counted_separately_and_their_number_is_bounded() -> None:
    limiter = LogLimiter(burst=1)
    logger = logging.getLogger("hostile.causes")
    for i in range(MAX_CAUSES + 50):
        limiter.log(logger, f"cause-{i}", logging.DEBUG, "x")
    assert len(limiter.counts) == MAX_CAUSES + 1
    assert limiter.counts[OVERFLOW_CAUSE] == 50


def test_a_quiet_interval_writes_no_summary() -> None:
    clock = _Clock()
    limiter = LogLimiter(interval=1.0, burst=5, clock=clock)
    limiter.log(logging.getLogger("hostile.quiet"), "q", logging.INFO, "once")
    clock.now += 2
    assert limiter.flush() == 0


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("/api/v1/x\nINFO forged line", "/api/v1/x\\nINFO forged line"),
        ("a\r\nb", "a\\r\\nb"),
        ("nul\x00 esc\x1b[31m", "nul\\x00 esc\\x1b[31m"),
        ("token \udcff", "token \\udcff"),
        ("caf\u00e9 \u2603 tab\tkept", "caf\u00e9 \u2603 tab\tkept"),
    ],
)
def test_control_characters_cannot_forge_log_lines(text: str, shown: str) -> None:
    assert escape(text) == shown


def test_the_formatter_escapes_arguments_but_keeps_the_traceback() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        setup_logging("info", stream=stream)
        logger = logging.getLogger("hostile.format")
        logger.info("GET %s", "/x\n2026-01-01T00:00:00.000Z ERROR forged: yes")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("GET /x\\n2026-01-01T00:00:00.000Z ERROR forged: yes")
    assert "Traceback (most recent call last):" in lines
