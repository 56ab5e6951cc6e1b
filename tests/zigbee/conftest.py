"""Fixtures for the Zigbee tests: a private simulated air per test and a started ZigbeeRadio over it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub_agent.config import ZigbeeSection
from hubtest.zigbee_events import EventLog, FakeClock, ZnpStick
from radios.base import RadioContext
from radios.sim.zigbee_air import SimulatedAir
from radios.zigbee.radio import ZigbeeRadio

_paths = itertools.count(1)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the task-hygiene check outermost for Zigbee tests.

    The root conftest appends `_no_lingering_tasks` last, so it would be torn down before the
    fixtures that stop our radios and judge their still-running zigpy tasks as leaks. Set up
    first, it is torn down last: it then checks that nothing survives the radios' `stop()`.
    """
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is None or "tests/zigbee/" not in str(item.path).replace("\\", "/"):
            continue
        if "_no_lingering_tasks" in names:
            names.remove("_no_lingering_tasks")
            names.insert(0, "_no_lingering_tasks")


HOUSEHOLD_SIZE = 11


@pytest.fixture
def air() -> Iterator[SimulatedAir]:
    """A fresh simulated air under a unique device path."""
    sim = SimulatedAir.register(SimulatedAir(f"sim://test-{next(_paths)}"))
    yield sim
    SimulatedAir.forget(sim.path)


@pytest.fixture
def air_for() -> Iterator[Callable[[Path], SimulatedAir]]:
    """The simulated air a `radio = "sim"` config with this data_dir opens (forgotten afterwards)."""
    made: list[str] = []

    def make(data_dir: Path) -> SimulatedAir:
        path = f"sim://{data_dir.resolve()}"
        made.append(path)
        return SimulatedAir.for_path(path)

    yield make
    for path in made:
        SimulatedAir.forget(path)


@pytest.fixture
def clock() -> FakeClock:
    """A hand-driven clock."""
    return FakeClock()


RadioFactory = Callable[..., Any]


@pytest.fixture
async def make_radio(tmp_path: Path, air: SimulatedAir, clock: FakeClock) -> AsyncIterator[RadioFactory]:
    """Build (and at the end stop) ZigbeeRadios over the test's air; each gets its own EventLog."""
    radios: list[ZigbeeRadio] = []

    async def build(data_dir: Path | None = None, **kwargs: Any) -> tuple[ZigbeeRadio, EventLog]:
        log = EventLog()
        section = ZigbeeSection(radio="sim", port=air.path, channel=20)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("backoff_initial", 0.01)
        kwargs.setdefault("backoff_cap", 0.05)
        radio = ZigbeeRadio(section, RadioContext(data_dir or tmp_path, log), **kwargs)
        radios.append(radio)
        await radio.start()
        return radio, log

    yield build
    for radio in radios:
        await radio.stop()


@pytest.fixture
async def household(
    make_radio: RadioFactory, air: SimulatedAir
) -> tuple[ZigbeeRadio, EventLog, SimulatedAir]:
    """A started radio with the default household joined, interviewed and configured."""
    radio, log = await make_radio()
    await radio.set_inclusion(60)
    await log.added(HOUSEHOLD_SIZE)
    return radio, log, air


# --- the same radio over zigpy-znp and our ZNP coordinator emulator --------------------------------


@pytest.fixture
async def znp_stick(tmp_path: Path) -> AsyncIterator[ZnpStick]:
    """A blank emulated ZNP stick with the default household in range."""
    stick = ZnpStick(tmp_path / "znp-state.json")
    await stick.plug()
    yield stick
    await stick.unplug()


@pytest.fixture
async def make_znp_radio(
    tmp_path: Path, znp_stick: ZnpStick, clock: FakeClock
) -> AsyncIterator[RadioFactory]:
    """Build (and at the end stop) ZigbeeRadios with `radio = "znp"` on the emulated stick."""
    radios: list[ZigbeeRadio] = []

    async def build(data_dir: Path | None = None, **kwargs: Any) -> tuple[ZigbeeRadio, EventLog]:
        log = EventLog()
        directory = data_dir or tmp_path / "hub"
        directory.mkdir(exist_ok=True)
        section = ZigbeeSection(radio="znp", port=znp_stick.emulator.url, channel=20)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("backoff_initial", 0.05)
        kwargs.setdefault("backoff_cap", 0.2)
        radio = ZigbeeRadio(section, RadioContext(directory, log), **kwargs)
        radios.append(radio)
        await radio.start()
        return radio, log

    yield build
    for radio in radios:
        await radio.stop()


@pytest.fixture
async def znp_household(
    make_znp_radio: RadioFactory, znp_stick: ZnpStick
) -> tuple[ZigbeeRadio, EventLog, ZnpStick]:
    """A started radio over zigpy-znp with the default household joined, interviewed and configured."""
    radio, log = await make_znp_radio()
    await radio.set_inclusion(60)
    await log.added(HOUSEHOLD_SIZE)
    await radio.wait_configured()
    return radio, log, znp_stick


@pytest.fixture(params=["sim", "znp"])
async def any_household(
    request: pytest.FixtureRequest,
    make_radio: RadioFactory,
    air: SimulatedAir,
    make_znp_radio: RadioFactory,
    znp_stick: ZnpStick,
) -> tuple[ZigbeeRadio, EventLog, SimulatedAir | ZnpStick]:
    """The default household joined and configured, over the simulated app and over zigpy-znp.

    The ZNP stick starts with a network already formed (formation has its own tests), which keeps
    these parametrised tests quick. Both airs answer `device(ieee)` and `leave(device)`.
    """
    if request.param == "sim":
        radio, log = await make_radio()
        where: SimulatedAir | ZnpStick = air
    else:
        znp_stick.emulator.coordinator.form(20)
        radio, log = await make_znp_radio()
        where = znp_stick
    await radio.set_inclusion(60)
    await log.added(HOUSEHOLD_SIZE)
    await radio.wait_configured()
    return radio, log, where
