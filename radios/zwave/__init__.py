"""Our own Z-Wave Serial API host stack (INS12350) over pyserial."""
