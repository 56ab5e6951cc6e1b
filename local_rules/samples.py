"""A few sensible rules for `hub-agent demo`, chosen by what the joined devices can do."""

from __future__ import annotations

from hub_core.model import Device, JSONObject


def _first(devices: list[Device], capability: str, *, exclude: tuple[str, ...] = ()) -> Device | None:
    for device in devices:
        if capability in device.capabilities and device.id not in exclude:
            return device
    return None


def sample_rules(devices: list[Device]) -> list[JSONObject]:
    """Up to four demo rules over `devices`; a rule whose devices are missing is left out."""
    rules: list[JSONObject] = []
    light = _first(devices, "level") or _first(devices, "switch")
    motion = _first(devices, "motion")
    if motion is not None and light is not None:
        rules.append(
            {
                "id": "motion-light",
                "name": f"{light.name} on for 30 s after motion at {motion.name}",
                "mode": "restart",
                "triggers": [{"type": "state", "device": motion.id, "attribute": "motion", "to": "active"}],
                "actions": [
                    {"type": "command", "device": light.id, "command": "on"},
                    {"type": "delay", "seconds": 30},
                    {"type": "command", "device": light.id, "command": "off"},
                ],
            }
        )
    contact = _first(devices, "contact")
    if contact is not None:
        rules.append(
            {
                "id": "door-open-notify",
                "name": f"tell me when {contact.name} opens",
                "mode": "single",
                "triggers": [{"type": "state", "device": contact.id, "attribute": "contact", "to": "open"}],
                "actions": [{"type": "notify", "message": f"{contact.name} was opened"}],
            }
        )
    button = _first(devices, "button")
    switch = _first(devices, "switch", exclude=(light.id,) if light is not None else ()) or light
    if button is not None and switch is not None:
        rules.append(
            {
                "id": "button-toggle",
                "name": f"{button.name} toggles {switch.name}",
                "mode": "queued",
                "triggers": [{"type": "button", "device": button.id, "action": "pressed"}],
                "actions": [{"type": "command", "device": switch.id, "command": "toggle"}],
            }
        )
    thermometer = _first(devices, "temperature")
    fan = _first(devices, "switch", exclude=(light.id,) if light is not None else ()) or light
    if thermometer is not None and fan is not None:
        rules.append(
            {
                "id": "warm-switch-on",
                "name": f"{fan.name} on when {thermometer.name} goes above 24 degC",
                "mode": "single",
                "triggers": [
                    {"type": "numeric", "device": thermometer.id, "attribute": "temperature", "above": 24}
                ],
                "actions": [{"type": "command", "device": fan.id, "command": "on"}],
            }
        )
    return rules
