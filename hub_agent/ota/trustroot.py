"""Checks an owner's root metadata before the hub trusts it: TUF root, self-signed by its threshold."""

from __future__ import annotations

from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization import DeserializationError

from hub_agent.ota.errors import UntrustedUpdate

#: The same ceiling ngclient applies to root metadata (see metadata.LIMITS).
MAX_ROOT = 256 * 1024


def check_root(data: bytes) -> Root:
    """Return the parsed root, or raise UntrustedUpdate saying why it cannot be a trust anchor."""
    if len(data) > MAX_ROOT:
        raise UntrustedUpdate(f"root metadata is larger than {MAX_ROOT} bytes")
    try:
        metadata = Metadata[Root].from_bytes(data)
    except (DeserializationError, ValueError, TypeError) as exc:
        raise UntrustedUpdate(f"not TUF root metadata: {exc}") from None
    if not isinstance(metadata.signed, Root):
        raise UntrustedUpdate(f"not root metadata but {type(metadata.signed).__name__.lower()}")
    root = metadata.signed
    try:
        root.verify_delegate(Root.type, metadata.signed_bytes, metadata.signatures)
    except UnsignedMetadataError as exc:
        raise UntrustedUpdate(f"root metadata is not signed by its own threshold of keys: {exc}") from None
    return root
