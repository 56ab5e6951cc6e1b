"""Our own Z-Wave Serial API host stack (INS12350) over pyserial, in layers:

    frame.py        sans-I/O framing: bytes <-> frames, ACK/NAK/CAN, resync, 1500 ms frame timeout
    transaction.py  one request as a pure state machine: send -> ACK -> response -> callback, retries
    messages/       one frozen dataclass per Serial API function (function id, what it expects back)
    driver.py       asyncio: the serial port (any pyserial URL), timers, one transaction at a time
    controller.py   Serial API flows: start-up, SendData with jam recovery, inclusion, exclusion
    cc/             command classes as data and their mapping to the canonical device model
    interview.py    what a node is and supports (driven by the cc package's interview tables)
    node.py         node records, persisted per network (home id), written atomically
    radio.py        ZWaveRadio: the Radio interface, wake-up queues, supervision, recovery

`radios/sim/zwave_emulator.py` is a controller emulated on a pty (with fault knobs) for tests,
benchmarks and `hub-agent demo` (`[zwave] port = "sim"`).
"""
