"""Z-Wave security: S2 (Security 2 CC, SDS13783) and S0 (Security CC, SDS10865), sans-I/O.

    primitives   AES-ECB/CMAC/CCM/OFB, S0 CBC-MAC, X25519 (over `cryptography`)
    kdf          CKDF: PRK, temporary and network key derivation, nonce PRK and MEI
    drbg         CTR_DRBG (AES-128, no derivation function) behind every SPAN
    classes      security classes, their bitmask and names, the DSK and its PIN
    s2_cc        Security 2 commands as data
    s2_encap     Message Encapsulation, extensions, SPAN table, resynchronisation (`S2Session`)
    kex          the including controller's key exchange as a pure `step()`
    s0           Security CC commands and the S0 nonce/crypto session (`S0Session`)
    keystore     the network keys file (0600, generated on first start)
    errors       what the decoders may raise (all `ProtocolError`s)

Not implemented: S2 multicast (MPAN/MGRP are parsed and ignored), CSA, S0 segmented frames.
Nothing here does I/O except `keystore`, which reads and writes the keys file.
"""
