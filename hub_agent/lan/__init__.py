"""The LAN API (CONTRACT section 5): authenticated HTTPS + WebSocket for the phone app and the web page.

server.LanServer      the supervised part: TLS, aiohttp app, control socket, mDNS, token cache
api                   route table, auth and error middlewares, JSON handlers
access                pairing with a code, owner tokens, the Host/Origin guard (docs/security.md)
errors                ApiError and the JSON error body
httpparser            whether aiohttp's compiled HTTP parser is in use
events                the events WebSocket with back-pressure
tokens                token format, hashing, the lan_tokens table, the in-memory cache
pairing               the pairing window and the failed-attempt limiter (pure, clock passed in)
control               the local control socket `hub-agent pair` / `token revoke` talk to
tls                   the self-signed certificate and its fingerprint
mdns                  the `_hub-agent._tcp` advertisement
metrics               the Prometheus collector
"""
