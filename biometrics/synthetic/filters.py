"""numpy building blocks: oriented band-pass growth of ridges, FFT blur, smooth noise, resampling."""

from __future__ import annotations

import numpy as np

ORIENTATION_BINS = 16


def oriented_bank(
    shape: tuple[int, int], frequencies: tuple[float, ...], *, radial_width: float, angular_width: float
) -> np.ndarray:
    """rfft2 gains (frequencies x ORIENTATION_BINS, rows, cols//2+1): Gabor-like band-passes.

    Entry (f, q) passes ridges of ``frequencies[f]`` cycles/px running at angle q·pi/BINS; the
    Gaussian widths across and along the ridges are relative to the frequency.
    """
    v = np.fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    u = np.fft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    angles = np.arange(ORIENTATION_BINS, dtype=np.float32)[:, None, None] * np.float32(
        np.pi / ORIENTATION_BINS
    )
    across = np.abs(-u * np.sin(angles) + v * np.cos(angles))
    along = u * np.cos(angles) + v * np.sin(angles)
    gains = [
        np.exp(-0.5 * (((across - f) / (radial_width * f)) ** 2 + (along / (angular_width * f)) ** 2))
        for f in frequencies
    ]
    return np.concatenate(gains).astype(np.float32)


class SteeredFilter:
    """Filters an image at each pixel with the band-pass of that pixel's orientation and frequency.

    The responses of the bank are blended linearly between the two nearest orientation bins and
    the two frequencies, so the orientation field and the local ridge period vary smoothly.
    """

    def __init__(
        self,
        orientation: np.ndarray,
        period: np.ndarray,
        periods: tuple[float, float],
        *,
        radial_width: float,
        angular_width: float,
    ) -> None:
        self.shape = orientation.shape
        self.bank = oriented_bank(
            self.shape,
            (1.0 / periods[0], 1.0 / periods[1]),
            radial_width=radial_width,
            angular_width=angular_width,
        )
        position = np.mod(orientation, np.pi) / np.pi * ORIENTATION_BINS
        lower = np.floor(position).astype(np.intp) % ORIENTATION_BINS
        upper = (lower + 1) % ORIENTATION_BINS
        angle_weight = (position - np.floor(position)).astype(np.float32)
        period_weight = np.clip((period - periods[0]) / (periods[1] - periods[0]), 0, 1).astype(np.float32)
        self._indices = np.stack([lower, upper, lower + ORIENTATION_BINS, upper + ORIENTATION_BINS])
        self._weights = np.stack(
            [
                (1 - angle_weight) * (1 - period_weight),
                angle_weight * (1 - period_weight),
                (1 - angle_weight) * period_weight,
                angle_weight * period_weight,
            ]
        )

    def __call__(self, image: np.ndarray) -> np.ndarray:
        responses = np.fft.irfft2(np.fft.rfft2(image)[None] * self.bank, s=self.shape)
        picked = np.take_along_axis(responses, self._indices, axis=0)
        return np.einsum("kij,kij->ij", picked, self._weights)


def grow_ridges(
    orientation: np.ndarray,
    period: np.ndarray,
    rng: np.random.Generator,
    *,
    iterations: int,
    gain: float,
    seed_density: float,
    radial_width: float,
    angular_width: float,
    downsample: int = 2,
) -> np.ndarray:
    """Ridges grown from sparse random seeds by repeated steered filtering and saturation (SFinGe).

    Ridges spread from the seeds along the orientation field; minutiae form where growing
    fronts meet out of phase. The growth runs on a grid ``downsample`` times coarser (ridge
    periods stay above 4 px there), and the band-limited result is brought back to full
    resolution through the FFT. Returns a smooth ridge profile in -1..1 (+1 on ridge centres),
    normalised by its local amplitude so that thresholding can set the ridge width later.
    """
    coarse_period = period[::downsample, ::downsample] / downsample
    low, high = np.percentile(coarse_period, [2, 98])
    steered = SteeredFilter(
        orientation[::downsample, ::downsample],
        coarse_period,
        (float(low), float(high) + 0.05),
        radial_width=radial_width,
        angular_width=angular_width,
    )
    field = rng.standard_normal(steered.shape).astype(np.float32) * (rng.random(steered.shape) < seed_density)
    for _ in range(iterations):
        response = steered(field)
        field = np.tanh(gain * response / (response.std() + 1e-12))
    response = fft_upsample(steered(field), orientation.shape)
    envelope = np.sqrt(2.0 * gaussian_blur(response**2, 0.35 * float(np.median(period)))) + 1e-6
    return np.clip(response / envelope, -1.0, 1.0).astype(np.float32)


def fft_upsample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A band-limited ``image`` resampled to the larger ``shape`` by zero-padding its spectrum."""
    spectrum = np.fft.rfft2(image)
    rows, cols = image.shape
    padded = np.zeros((shape[0], shape[1] // 2 + 1), dtype=spectrum.dtype)
    half = rows // 2
    padded[:half, : cols // 2] = spectrum[:half, : cols // 2]
    padded[-half:, : cols // 2] = spectrum[-half:, : cols // 2]
    scale = shape[0] * shape[1] / (rows * cols)
    return np.fft.irfft2(padded * scale, s=shape).astype(np.float32)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur through the FFT (periodic borders: pad first where that matters)."""
    v = np.fft.fftfreq(image.shape[0])[:, None]
    u = np.fft.rfftfreq(image.shape[1])[None, :]
    gain = np.exp(-2.0 * (np.pi * sigma) ** 2 * (u**2 + v**2)).astype(np.float32)
    return np.fft.irfft2(np.fft.rfft2(image) * gain, s=image.shape)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-correlated noise with correlation length ``sigma`` px, zero mean and unit std."""
    noise = gaussian_blur(rng.standard_normal(shape).astype(np.float32), sigma)
    noise -= noise.mean()
    return noise / (noise.std() + 1e-12)


def sample_bilinear(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray, fill: float) -> np.ndarray:
    """``grid`` at fractional (``rows``, ``cols``); ``fill`` outside it."""
    padded = np.pad(grid.astype(np.float32), 1, constant_values=fill)
    r = np.clip(rows + 1, 0, padded.shape[0] - 1.001)
    c = np.clip(cols + 1, 0, padded.shape[1] - 1.001)
    r0, c0 = r.astype(np.intp), c.astype(np.intp)
    fr, fc = (r - r0).astype(np.float32), (c - c0).astype(np.float32)
    top = padded[r0, c0] * (1 - fc) + padded[r0, c0 + 1] * fc
    bottom = padded[r0 + 1, c0] * (1 - fc) + padded[r0 + 1, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr
