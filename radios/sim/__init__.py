"""Simulated radios and devices for `hub-agent demo` and the tests."""
