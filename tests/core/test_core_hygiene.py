"""The hygiene fixtures themselves: a leaked task must fail the test that leaked it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_leaked_task_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent.parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import asyncio

        async def test_leaks():
            asyncio.get_running_loop().create_task(asyncio.sleep(30))

        async def test_clean():
            await asyncio.sleep(0)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # test_leaks itself passes, then errors in teardown, where the leak is found.
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*left 1 asyncio task(s) running*"])


async def test_a_clean_async_test_passes() -> None:
    await asyncio.sleep(0)
