"""hub_core: the kernel every other package stands on.

Layers (an import-graph test holds them):

    hub_agent/            the process: config, CLI, wiring, LAN API, cloud link, OTA, systemd
    radios/  local_rules/ plug-ins: one adapter per protocol; the rules engine
    hub_core/             model, errors, event bus, clock, back-off, supervised tasks

`hub_core` imports none of `hub_agent`, `radios`, `local_rules`; `radios` and `local_rules` import
`hub_core` (and their own libraries) only, never `hub_agent` and never each other.
"""
