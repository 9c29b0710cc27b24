"""The simulated sensor's picture: 16 grey levels like the R307's UART image, cut to its window."""

from __future__ import annotations

import numpy as np

WHITE = 255


def quantise_4bit(image: np.ndarray) -> np.ndarray:
    """Keep the top 4 bits of each pixel and scale back to 0..255 (x 17), as a host expands them."""
    return ((np.clip(image, 0, 255).astype(np.uint8) >> 4) * 17).astype(np.uint8)


def window(image: np.ndarray, width: int, height: int, centre: tuple[int, int]) -> np.ndarray:
    """A ``height`` x ``width`` window of ``image`` centred on ``centre`` (x, y), padded with white."""
    out = np.full((height, width), WHITE, dtype=np.uint8)
    left, top = centre[0] - width // 2, centre[1] - height // 2
    src_x0, src_y0 = max(left, 0), max(top, 0)
    src_x1, src_y1 = min(left + width, image.shape[1]), min(top + height, image.shape[0])
    if src_x1 > src_x0 and src_y1 > src_y0:
        out[src_y0 - top : src_y1 - top, src_x0 - left : src_x1 - left] = image[src_y0:src_y1, src_x0:src_x1]
    return out
