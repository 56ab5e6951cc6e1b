"""Which radio adapter serves each config section; a present section enables its radio.

Adapters are imported lazily, so a hub without Zigbee never pays for importing zigpy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from hub_agent.config import BleSection, Config, ZigbeeSection, ZWaveSection
from hub_core.model import Protocol
from radios.base import Radio, RadioContext

RadioFactory = Callable[[Any, RadioContext], Radio]


def _zwave(section: ZWaveSection, ctx: RadioContext) -> Radio:
    # Our own Serial API host stack; "sim" runs it over the built-in pty controller emulator.
    if section.port == "sim":
        from radios.sim.zwave_radio import SimZWaveRadio

        return SimZWaveRadio(ctx)
    if section.security_keys is None:
        from radios.zwave.radio import ZWaveRadio

        return ZWaveRadio(ctx, section.port)
    # S2/S0: the keys are loaded (or created 0600) now, before the radio starts; a bad file is a ConfigError.
    from radios.zwave.security.keystore import load_or_create
    from radios.zwave.security.secure_radio import SecureZWaveRadio

    return SecureZWaveRadio(ctx, section.port, load_or_create(section.security_keys))


def _zigbee(section: ZigbeeSection, ctx: RadioContext) -> Radio:
    # zigpy over the simulated air (radio = "sim") or over zigpy-znp / bellows / zigpy-deconz,
    # imported lazily; a missing extra raises StackNotInstalled naming the pip extra to install.
    if section.radio == "sim":
        from radios.sim.zigbee_radio import SimZigbeeRadio

        return SimZigbeeRadio(section, ctx)
    from radios.zigbee.radio import ZigbeeRadio

    return ZigbeeRadio(section, ctx)


def _ble(section: BleSection, ctx: RadioContext) -> Radio:
    # bleak + bthome-ble over BlueZ (D-Bus system bus), or over simulated air (adapter = "sim")
    if section.adapter == "sim":
        from radios.sim.ble_radio import SimBleRadio

        return SimBleRadio(ctx)
    from radios.ble.radio import BleRadio

    return BleRadio(ctx, section.adapter)


#: config section name -> (protocol, factory)
FACTORIES: dict[str, tuple[Protocol, RadioFactory]] = {
    "zwave": (Protocol.ZWAVE, _zwave),
    "zigbee": (Protocol.ZIGBEE, _zigbee),
    "ble": (Protocol.BLE, _ble),
}


def enabled_radios(config: Config) -> list[tuple[Protocol, Callable[[RadioContext], Radio]]]:
    """The radios the config enables, each with a factory that takes its RadioContext."""
    out: list[tuple[Protocol, Callable[[RadioContext], Radio]]] = []
    for name, (protocol, factory) in FACTORIES.items():
        section = getattr(config, name)
        if section is not None:
            out.append((protocol, functools.partial(factory, section)))
    return out
