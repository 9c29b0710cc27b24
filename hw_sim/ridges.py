"""Oriented band-pass filtering of ridge patterns, shared by the print generator and the extractor."""

from __future__ import annotations

import numpy as np

ORIENTATION_BINS = 12


def oriented_bandpass(
    shape: tuple[int, int], frequency: float, *, radial_width: float = 0.22, angular_width: float = 0.16
) -> np.ndarray:
    """rfft2 spectra (bins, rows, columns) passing ridges of ``frequency`` (cycles/pixel) per direction.

    Bin q passes ridges running at q x pi / ORIENTATION_BINS radians; the widths are relative to
    ``frequency``.
    """
    v = np.fft.fftfreq(shape[0])[:, None]
    u = np.fft.rfftfreq(shape[1])[None, :]
    angles = np.arange(ORIENTATION_BINS)[:, None, None] * np.pi / ORIENTATION_BINS
    across = -u * np.sin(angles) + v * np.cos(angles)
    along = u * np.cos(angles) + v * np.sin(angles)
    radial = (np.abs(across) - frequency) / (radial_width * frequency)
    angular = along / (angular_width * frequency)
    return np.exp(-0.5 * (radial**2 + angular**2))


def steered_filter(image: np.ndarray, spectra: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """``image`` filtered at each pixel by the band-pass of that pixel's ridge ``orientation`` (radians)."""
    responses = np.fft.irfft2(np.fft.rfft2(image)[None] * spectra, s=image.shape)
    position = np.mod(orientation, np.pi) / np.pi * ORIENTATION_BINS
    lower = np.floor(position).astype(int) % ORIENTATION_BINS
    weight = position - np.floor(position)
    upper = (lower + 1) % ORIENTATION_BINS
    return (
        np.take_along_axis(responses, lower[None], 0)[0] * (1 - weight)
        + np.take_along_axis(responses, upper[None], 0)[0] * weight
    )
