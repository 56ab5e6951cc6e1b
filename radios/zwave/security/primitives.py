"""Block-cipher building blocks of Z-Wave security, over `cryptography` (OpenSSL).

Rules of this file: pure functions of bytes, no state, no I/O. Key and block sizes are checked
by the callers' types (16-byte keys everywhere in Z-Wave); a wrong size raises `ValueError`,
which is a programming error here, never a reaction to air input.

- S2 (SDS13783): AES-128-CMAC (RFC 4493) for the key derivations, AES-128-CCM (RFC 3610) with a
  13-byte nonce and an 8-byte tag for frames, X25519 (RFC 7748) for the key exchange.
- S0 (SDS10865): AES-128-OFB for the payload, a CBC-MAC (first 8 bytes of the last CBC block,
  zero IV) for authentication, AES-ECB to derive the S0 authentication and encryption keys.
"""

from __future__ import annotations

import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.modes import OFB
from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

BLOCK = 16
CCM_TAG = 8
CCM_NONCE = 13


def aes_ecb(key: bytes, data: bytes) -> bytes:
    """AES-128-ECB of whole blocks (the DRBG and key derivations use it block by block)."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - single blocks by design (DRBG, S0 keys)
    return enc.update(data) + enc.finalize()


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """AES-CMAC (RFC 4493 / NIST SP 800-38B), 16 bytes."""
    mac = _cmac.CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def ccm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-128-CCM with an 8-byte tag: ciphertext followed by the tag."""
    return AESCCM(key, tag_length=CCM_TAG).encrypt(nonce, plaintext, aad)


def ccm_decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes | None:
    """Open an AES-128-CCM ciphertext+tag; None when it does not authenticate."""
    if len(sealed) < CCM_TAG:
        return None
    try:
        return AESCCM(key, tag_length=CCM_TAG).decrypt(nonce, sealed, aad)
    except InvalidTag:
        return None


def aes_ofb(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-OFB (encryption and decryption are the same operation)."""
    enc = Cipher(algorithms.AES(key), OFB(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def s0_mac(key: bytes, auth_data: bytes) -> bytes:
    """S0's CBC-MAC: AES-CBC with a zero IV over the zero-padded data, first 8 bytes of the last block."""
    padded = auth_data + bytes(-len(auth_data) % BLOCK)
    enc = Cipher(algorithms.AES(key), modes.CBC(bytes(BLOCK))).encryptor()
    out = enc.update(padded) + enc.finalize()
    return out[-BLOCK:][:8]


def same(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two MACs."""
    return hmac.compare_digest(a, b)


def x25519_keypair(private: bytes | None = None) -> tuple[bytes, bytes]:
    """An X25519 (private, public) pair of raw 32-byte strings; a fresh one unless `private` is given."""
    key = X25519PrivateKey.generate() if private is None else X25519PrivateKey.from_private_bytes(private)
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    priv = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return priv, pub


def x25519_shared(private: bytes, peer_public: bytes) -> bytes:
    """The X25519 shared secret (RFC 7748 section 6.1); ValueError for an all-zero (low-order) result."""
    key = X25519PrivateKey.from_private_bytes(private)
    return key.exchange(X25519PublicKey.from_public_bytes(peer_public))
