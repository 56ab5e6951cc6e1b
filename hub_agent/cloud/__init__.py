"""The cloud link (CONTRACT section 7): one outbound, mutually authenticated WebSocket that loses nothing.

protocol.py   the envelope messages and the sans-I/O hub session (no sockets, no clock)
outbox.py     events with a persisted seq, resent until acknowledged, bounded on disk
commands.py   cloud commands: idempotent by id, expiry, results with timing
pki.py        keys, CSRs, certificates and TLS contexts (cryptography + ssl)
backoff.py    the clock and the full-jitter reconnect back-off
link.py       CloudLink, the asyncio part that owns the connection
devcloud.py   a development relay and throwaway PKI (not a production gateway)
"""
