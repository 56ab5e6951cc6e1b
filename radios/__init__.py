"""Radio adapters: one sub-package per protocol, each behind `radios.base.Radio`.

Layer: a plug-in. Imports `hub_core` (model, errors, back-off, tasks) and its own libraries (pyserial,
zigpy, bleak) only, never `hub_agent` or `local_rules`. The process hands each radio a
`RadioContext` and reads its config section from `radios/<proto>/settings.py`.
"""
