"""An emulated TI Z-Stack 3.30 (ZNP) coordinator for zigpy-znp, with a simulated household in range.

`frames` is MT framing, `wire` MT field codecs, `nv` the NV items, `coordinator` the firmware's MT
command handling, `air` the household and its frames, `server` the TCP port zigpy-znp connects to
(`socket://HOST:PORT`). Run standalone: `python -m radios.sim.znp --listen HOST:PORT --state FILE`.
Written from TI's MT interface documentation and zigpy-znp's command definitions.
"""
