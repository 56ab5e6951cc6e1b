"""Radio adapters: one sub-package per protocol, each behind `radios.base.Radio`."""
