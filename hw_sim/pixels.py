"""Image pixels as the module's UART carries them: 4 bits per pixel, two pixels per byte."""

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


def sample_bilinear(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``grid`` (or a stack of grids along the last axis) at fractional (row, col) positions; 0 outside."""
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    fr, fc = rows - r0, cols - c0
    if grid.ndim == 3:
        fr, fc = fr[..., None], fc[..., None]
    padded = np.pad(grid, [(1, 1), (1, 1)] + [(0, 0)] * (grid.ndim - 2))
    r0 = np.clip(r0 + 1, 0, padded.shape[0] - 2)
    c0 = np.clip(c0 + 1, 0, padded.shape[1] - 2)
    top = padded[r0, c0] * (1 - fc) + padded[r0, c0 + 1] * fc
    bottom = padded[r0 + 1, c0] * (1 - fc) + padded[r0 + 1, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr
