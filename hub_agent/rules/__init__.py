"""The rules engine wired into the process: the service (store, bus, schedules) and the seed file."""
