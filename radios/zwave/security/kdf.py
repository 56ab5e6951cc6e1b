"""CKDF: the CMAC-based key derivations of S2 (SDS13783 section 3.6.4.x, "CKDF").

Rules of this file: pure functions. Every derivation is a short counter-mode chain of AES-CMAC
under a constant-filled key or input, as the specification defines:

- PRK = CMAC(0x33 * 16, ECDH shared secret | public key A (including node) | public key B (joining node))
- temporary keys from the PRK: T1 = CMAC(PRK, 0x88 * 15 | 1), Tn = CMAC(PRK, Tn-1 | 0x88 * 15 | n);
  CCM key = T1, personalisation string = T2 | T3
- network keys from the permanent network key (PNK), same chain with 0x55 * 15: CCM key = T1,
  personalisation string = T2 | T3, MPAN key = T4
- nonce PRK = CMAC(0x26 * 16, sender EI | receiver EI); mixed entropy input (MEI) =
  CMAC(noncePRK, 0x88*15 | 0 | 0x88*15 | 1) | CMAC(noncePRK, T1 | 0x88*15 | 2)
"""

from __future__ import annotations

from dataclasses import dataclass

from .primitives import aes_cmac

_PRK_KEY = b"\x33" * 16
_TEMP = b"\x88" * 15
_NETWORK = b"\x55" * 15
_NONCE_KEY = b"\x26" * 16
_EI = b"\x88" * 15


@dataclass(frozen=True, slots=True)
class DerivedKeys:
    """The keys one S2 key (temporary or permanent) expands to; `mpan` is empty for temporary keys."""

    ccm: bytes
    personalization: bytes
    mpan: bytes = b""

    def __repr__(self) -> str:  # keys never reach a log line through repr()
        return "DerivedKeys(<secret>)"


def compute_prk(shared_secret: bytes, public_a: bytes, public_b: bytes) -> bytes:
    """The pseudo-random key of one key exchange (A = including node, B = joining node)."""
    return aes_cmac(_PRK_KEY, shared_secret + public_a + public_b)


def _chain(key: bytes, constant: bytes, count: int) -> list[bytes]:
    out: list[bytes] = []
    prev = b""
    for i in range(1, count + 1):
        prev = aes_cmac(key, prev + constant + bytes([i]))
        out.append(prev)
    return out


def derive_temp_keys(prk: bytes) -> DerivedKeys:
    """The temporary CCM key and personalisation string used while a node is bootstrapped."""
    t1, t2, t3 = _chain(prk, _TEMP, 3)
    return DerivedKeys(ccm=t1, personalization=t2 + t3)


def derive_network_keys(pnk: bytes) -> DerivedKeys:
    """The CCM key, personalisation string and MPAN key of a permanent network key."""
    t1, t2, t3, t4 = _chain(pnk, _NETWORK, 4)
    return DerivedKeys(ccm=t1, personalization=t2 + t3, mpan=t4)


def compute_nonce_prk(sender_ei: bytes, receiver_ei: bytes) -> bytes:
    """The nonce PRK of one SPAN from the two 16-byte entropy inputs."""
    return aes_cmac(_NONCE_KEY, sender_ei + receiver_ei)


def derive_mei(nonce_prk: bytes) -> bytes:
    """The 32-byte mixed entropy input that seeds a SPAN's CTR_DRBG."""
    t1 = aes_cmac(nonce_prk, _EI + b"\x00" + _EI + b"\x01")
    t2 = aes_cmac(nonce_prk, t1 + _EI + b"\x02")
    return t1 + t2
