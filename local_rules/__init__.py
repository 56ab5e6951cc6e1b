"""Local automations: rule model, parser, compiler, the pure `decide()`, and the runner.

Layer: a plug-in. Imports `hub_core` only; the runner reaches the hub and the store through the small
protocols in `local_rules.ports`, which `hub_agent.rules` wires to the real ones.
"""
