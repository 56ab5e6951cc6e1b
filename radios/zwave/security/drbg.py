"""CTR_DRBG (NIST SP 800-90A section 10.2) with AES-128 and no derivation function, as S2 uses it.

Rules of this file: a small mutable object, no I/O. seedlen = 32 bytes (key 16 + block 16).
S2 instantiates it with 32 bytes of entropy XOR a personalisation string, never reseeds a SPAN
(a fresh nonce exchange makes a new instance instead) and passes no additional input, so only
instantiate, generate and update are here. The reseed counter limit (2^48) is far above what a
SPAN reaches before the next resynchronisation.
"""

from __future__ import annotations

from .primitives import aes_ecb

_KEY = 16
_BLOCK = 16
SEED_LEN = _KEY + _BLOCK


def _increment(v: bytes) -> bytes:
    return ((int.from_bytes(v, "big") + 1) % (1 << 128)).to_bytes(_BLOCK, "big")


class CtrDrbg:
    """An AES-128 CTR_DRBG instance; `generate(n)` returns n pseudo-random bytes."""

    __slots__ = ("_key", "_v")

    def __init__(self, entropy: bytes, personalization: bytes = b"") -> None:
        if len(entropy) != SEED_LEN:
            raise ValueError(f"CTR_DRBG entropy must be {SEED_LEN} bytes, got {len(entropy)}")
        if len(personalization) > SEED_LEN:
            raise ValueError(f"CTR_DRBG personalisation string is at most {SEED_LEN} bytes")
        pers = personalization + bytes(SEED_LEN - len(personalization))
        self._key = bytes(_KEY)
        self._v = bytes(_BLOCK)
        self._update(bytes(a ^ b for a, b in zip(entropy, pers, strict=True)))

    def __repr__(self) -> str:
        return "CtrDrbg(<secret>)"

    def _blocks(self, count: int) -> bytes:
        counters = []
        v = self._v
        for _ in range(count):
            v = _increment(v)
            counters.append(v)
        self._v = v
        return aes_ecb(self._key, b"".join(counters))

    def _update(self, provided: bytes) -> None:
        temp = self._blocks(SEED_LEN // _BLOCK)
        temp = bytes(a ^ b for a, b in zip(temp, provided, strict=True))
        self._key, self._v = temp[:_KEY], temp[_KEY:]

    def generate(self, length: int) -> bytes:
        """The next `length` bytes; the state then moves on (update with no additional input)."""
        out = self._blocks(-(-length // _BLOCK))[:length]
        self._update(bytes(SEED_LEN))
        return out

    def state(self) -> tuple[bytes, bytes]:
        """(Key, V) for golden-vector tests."""
        return self._key, self._v
