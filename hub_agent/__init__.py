"""hub-agent: the firmware agent of a smart-home hub.

Layer: the process, at the top. Config, CLI, agent wiring, hub registry, store, LAN API, cloud link,
OTA and systemd integration; it imports `hub_core`, `radios` and `local_rules`, none of which import it.
"""

__version__ = "0.1.0"
