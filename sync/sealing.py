"""AES-256-GCM envelopes: how personal and biometric data is stored in the outbox.

Envelope layout (bytes)::

    version (1, = 1) | key id length (1) | key id (ASCII) | nonce (12, random) | ciphertext + tag (16)

The additional authenticated data is the envelope's context (which column of which TCN, e.g.
``payload:NY0303000K01-...``): an envelope copied into another row or column does not open, and
neither does one whose bytes were altered. Nonces are random: with 96 bits, far more envelopes
than a station ever writes can be sealed under one key before a repeat becomes a concern.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.keyring import KeyFile, KeyRing

VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 2 + 255  # version, length, key id


class SealError(Exception):
    """An envelope that cannot be opened: damaged, moved, or sealed under another key."""


class Sealer:
    """Seals under the active key of ``keys``; opens envelopes of any key still in it.

    One cipher per key id is kept for the key ring it came from; when a ``KeyFile`` hands out a
    new ring (the file was rotated or retired), the ciphers of the old one are dropped. Safe to
    share between threads: the ciphers hold no per-operation state."""

    def __init__(self, keys: KeyFile | KeyRing) -> None:
        self._keys = keys
        self._ciphers: tuple[KeyRing | None, dict[str, AESGCM]] = (None, {})

    def ring(self) -> KeyRing:
        return self._keys.ring() if isinstance(self._keys, KeyFile) else self._keys

    def seal(self, plaintext: bytes, context: str) -> bytes:
        ring = self.ring()
        key_id = ring.active_id.encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher(ring, ring.active_id).encrypt(nonce, plaintext, context.encode("utf-8"))
        return bytes([VERSION, len(key_id)]) + key_id + nonce + sealed

    def open(self, envelope: bytes, context: str) -> bytes:
        key_id, nonce, sealed = split_envelope(envelope)
        try:
            return self._cipher(self.ring(), key_id).decrypt(nonce, sealed, context.encode("utf-8"))
        except InvalidTag:
            raise SealError(
                f"the {context.split(':', 1)[0]} envelope is damaged or belongs elsewhere"
            ) from None

    def _cipher(self, ring: KeyRing, key_id: str) -> AESGCM:
        cached_ring, ciphers = self._ciphers
        if cached_ring is not ring:
            ciphers = {}
            self._ciphers = (ring, ciphers)
        cipher = ciphers.get(key_id)
        if cipher is None:
            cipher = ciphers[key_id] = AESGCM(ring.key(key_id))  # UnknownKey if it is not in the ring
        return cipher


def envelope_key_id(envelope: bytes) -> str:
    """The key id in an envelope's header (the header alone will do: at most ``HEADER_BYTES``)."""
    if len(envelope) < 2 or envelope[0] != VERSION or len(envelope) < 2 + envelope[1]:
        raise SealError("not an outbox envelope (unknown version, or truncated)")
    try:
        return envelope[2 : 2 + envelope[1]].decode("ascii")
    except UnicodeDecodeError:
        raise SealError("not an outbox envelope (its key id is not ASCII)") from None


def split_envelope(envelope: bytes) -> tuple[str, bytes, bytes]:
    key_id = envelope_key_id(envelope)
    start = 2 + len(key_id)
    if len(envelope) < start + NONCE_BYTES + TAG_BYTES:
        raise SealError("the envelope is truncated")
    return key_id, envelope[start : start + NONCE_BYTES], envelope[start + NONCE_BYTES :]
