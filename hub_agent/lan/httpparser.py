"""Which HTTP request parser aiohttp uses: its compiled llhttp one, or the pure-Python fallback.

The fallback had a request-smuggling advisory (issue 18.8) and is slower; it is used when aiohttp was
installed without its C extensions or `AIOHTTP_NO_EXTENSIONS` is set. `hub-agent info` shows which.
"""

from __future__ import annotations

from aiohttp import http_parser

COMPILED = "compiled (llhttp)"


def kind() -> str:
    """`COMPILED`, or a sentence saying that the pure-Python parser is in use and why that matters."""
    parser = http_parser.HttpRequestParser
    if parser is not http_parser.HttpRequestParserPy and parser.__module__.endswith("._http_parser"):
        return COMPILED
    return (
        "pure Python: aiohttp's C extensions are missing or AIOHTTP_NO_EXTENSIONS is set; "
        "reinstall aiohttp from a binary wheel (docs/security.md)"
    )
