"""WSQ at 0.75 bpp (the FBI target) for storage and transmission; decode for display.

Uses the C core of the ``wsq`` package directly (``_wsq.compress``/``decompress``): the same
bytes as its Pillow plugin at about half the cost, since the plugin builds a Python pixel list.
The bitrate is fixed at 0.75 bpp and the resolution at 500 ppi inside that C code. Both calls hold
the GIL (~2 ms to encode, ~4 ms to decode a 256x288 frame). Never extract minutiae or NFIQ 2
from a decoded WSQ.
"""

from __future__ import annotations

import _wsq  # the C extension of the wsq package
import numpy as np

from biometrics.errors import WsqError
from biometrics.frames import validate_frame

WSQ_BITRATE = 0.75
_CORRUPT = "the stream is truncated or corrupt; fetch it again or re-encode it from the raw frame"


def encode_wsq(frame: np.ndarray) -> bytes:
    """The frame compressed as WSQ (0.75 bpp, 500 ppi)."""
    pixels = validate_frame(frame)
    rows, cols = pixels.shape
    try:
        return _wsq.compress(pixels.tobytes(), rows, cols, WSQ_BITRATE)
    except Exception as exc:  # the C code raises plain Exception("WSQ Error: -32")
        raise WsqError(f"WSQ encoding of a {cols}x{rows} frame failed: {exc}") from None


def decode_wsq(data: bytes) -> np.ndarray:
    """The image in a WSQ stream as a (rows, cols) uint8 array."""
    if not isinstance(data, bytes | bytearray) or len(data) < 2 or bytes(data[:2]) != b"\xff\xa0":
        raise WsqError("not a WSQ stream (it must start with the SOI marker FF A0)", hint=_CORRUPT)
    try:
        pixels, cols, rows, _ppi = _wsq.decompress(bytes(data))
    except Exception as exc:  # OSError, UnboundLocalError, Exception("WSQ Error ...")
        raise WsqError(f"WSQ decoding failed: {exc}", hint=_CORRUPT) from None
    if len(pixels) != rows * cols:
        raise WsqError(f"WSQ stream decoded to {len(pixels)} bytes for {cols}x{rows} pixels", hint=_CORRUPT)
    return np.frombuffer(pixels, dtype=np.uint8).reshape(rows, cols).copy()
