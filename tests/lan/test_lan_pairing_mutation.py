"""The pairing window and the failure limiter at each limit (issue 19); time is stepped by hand."""

from __future__ import annotations

import secrets

import pytest

from hub_agent.lan import pairing
from hub_agent.lan.pairing import (
    CODE_DIGITS,
    DEFAULT_WINDOW,
    MAX_WINDOW,
    MAX_WRONG_CODES,
    FailureLimiter,
    PairingWindow,
    new_code,
)


def test_codes_are_six_digits_from_the_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []

    def randbelow(n: int) -> int:
        drawn.append(n)
        return 42

    monkeypatch.setattr(secrets, "randbelow", randbelow)
    assert new_code() == "000042" and drawn == [10**6]
    monkeypatch.undo()
    codes = {new_code() for _ in range(50)}
    assert all(len(c) == CODE_DIGITS == 6 and c.isdigit() for c in codes) and len(codes) > 1


def test_the_window_opens_for_the_contract_time_up_to_the_maximum() -> None:
    assert (DEFAULT_WINDOW, MAX_WINDOW) == (60.0, 600.0)
    window = PairingWindow()
    assert window.is_open(0.0) is False and window.remaining(0.0) == 0.0
    assert window.open(DEFAULT_WINDOW, now=100.0, code="123456") == 60.0
    assert window.remaining(100.0) == 60.0 and window.remaining(130.0) == 30.0
    assert window.is_open(159.9) is True
    assert window.is_open(160.0) is False and window.remaining(170.0) == 0.0
    assert window.open(MAX_WINDOW, now=0.0) == 600.0 and len(window.code) == 6
    for bad in (-0.5, MAX_WINDOW + 0.5):
        with pytest.raises(ValueError, match="seconds must be between 0 and 600"):
            window.open(bad, now=0.0)
    assert window.is_open(599.0) is True  # a refused open changes nothing


def test_opening_for_zero_seconds_closes_and_forgets_the_code() -> None:
    window = PairingWindow()
    window.open(60.0, now=0.0, code="123456")
    assert window.open(0, now=1.0) == 0.0
    assert (window.is_open(1.0), window.code, window.remaining(1.0)) == (False, "", 0.0)
    assert window.check_code("123456", 1.0) is False


def test_only_the_code_of_an_open_window_pairs() -> None:
    window = PairingWindow()
    assert window.check_code("123456", 0.0) is False  # never opened
    window.open(60.0, now=0.0, code="123456")
    assert window.check_code("123456", 1.0) is True
    assert window.check_code(123456, 1.0) is False  # not a string: no match, counts as wrong
    assert window.check_code("123456", 60.0) is False  # the window ended
    window.open(60.0, now=100.0, code="")
    assert window.check_code("", 101.0) is False  # a window without a code pairs nobody


def test_the_fifth_wrong_code_closes_the_window_and_a_new_press_resets_the_count() -> None:
    assert MAX_WRONG_CODES == 5
    window = PairingWindow()
    window.open(60.0, now=0.0, code="123456")
    for attempt in range(MAX_WRONG_CODES - 1):
        assert window.check_code(f"00000{attempt}", 1.0) is False
    assert window.is_open(1.0) and window.check_code("123456", 1.0) is True
    assert window.check_code("999999", 1.0) is False  # the fifth wrong one
    assert window.is_open(1.0) is False and window.code == ""
    window.open(60.0, now=2.0, code="654321")
    for _ in range(MAX_WRONG_CODES - 1):
        window.check_code("000000", 3.0)
    assert window.check_code("654321", 3.0) is True


def test_a_window_made_open_counts_wrong_codes_from_zero() -> None:
    window = PairingWindow(until=50.0, code="123456")
    for _ in range(MAX_WRONG_CODES - 1):
        window.check_code("000000", 1.0)
    assert window.is_open(1.0) is True


def test_one_token_per_press() -> None:
    window = PairingWindow()
    assert window.paired == 0
    window.open(60.0, now=0.0, code="123456")
    window.paired_one()
    assert (window.paired, window.is_open(1.0), window.code) == (1, False, "")
    window.open(60.0, now=2.0)
    window.paired_one()
    assert window.paired == 2


def test_the_state_records_refuse_unknown_fields() -> None:
    with pytest.raises(AttributeError):
        PairingWindow().untill = 5.0  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        FailureLimiter().max_failure = 3  # type: ignore[attr-defined]


def test_the_limiter_defaults_allow_ten_failures_a_minute() -> None:
    limiter = FailureLimiter()
    for n in range(9):
        limiter.failed("10.0.0.1", float(n))
    assert limiter.retry_after("10.0.0.1", 9.0) == 0.0
    limiter.failed("10.0.0.1", 9.0)
    assert limiter.retry_after("10.0.0.1", 9.0) == 51.0  # the first failure (t=0) expires at 60
    assert limiter.retry_after("10.0.0.1", 59.5) == 0.5
    assert limiter.retry_after("10.0.0.1", 60.0) == 0.0
    assert limiter.retry_after("10.0.0.2", 9.0) == 0.0


def test_more_failures_than_the_limit_keep_the_newest() -> None:
    limiter = FailureLimiter(max_failures=3, period=10.0)
    for when in (0.0, 1.0, 2.0, 3.0, 4.0):
        limiter.failed("a", when)
    # The three newest (2, 3, 4) count: the client may try again when t=2 expires.
    assert limiter.retry_after("a", 4.0) == 8.0
    assert limiter.retry_after("a", 12.0) == 0.0


def test_a_failure_expires_exactly_one_period_later_and_the_client_is_forgotten() -> None:
    limiter = FailureLimiter(max_failures=2, period=10.0)
    limiter.failed("a", 0.0)
    assert limiter.retry_after("a", 9.9) == 0.0 and len(limiter) == 1
    assert limiter.retry_after("a", 10.0) == 0.0 and len(limiter) == 0
    limiter.failed("b", 0.0)
    limiter.failed("b", 10.0)  # the first one expired as this one came in
    assert limiter.retry_after("b", 10.0) == 0.0
    limiter.failed("b", 11.0)
    assert limiter.retry_after("b", 11.0) == 9.0


def test_the_limiter_forgets_the_least_recently_failing_client_first() -> None:
    assert FailureLimiter().max_clients == 4096
    limiter = FailureLimiter(max_failures=1, period=100.0, max_clients=3)
    for n, client in enumerate(("a", "b", "c")):
        limiter.failed(client, float(n))
    limiter.failed("a", 3.0)  # a is now the most recent
    limiter.failed("d", 4.0)  # over the cap: b goes
    assert len(limiter) == 3
    assert limiter.retry_after("b", 5.0) == 0.0
    assert [limiter.retry_after(c, 5.0) > 0 for c in ("a", "c", "d")] == [True, True, True]


def test_the_default_client_cap_holds() -> None:
    limiter = FailureLimiter()
    for n in range(limiter.max_clients + 1):
        limiter.failed(f"c{n}", 0.0)
    assert len(limiter) == 4096
    for _ in range(9):
        limiter.failed("c0", 0.0)  # c0 was forgotten: nine new failures stay under the limit
    assert limiter.retry_after("c0", 0.0) == 0.0
    assert pairing.FailureLimiter().period == 60.0
