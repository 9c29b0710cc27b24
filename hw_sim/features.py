"""What the simulated module computes from an image: character files and their comparison score.

``FeatureExtractor`` is the seam: Img2Tz calls ``extract``, Match/Search call ``compare``,
RegModel calls ``merge``. The built-in ``SimpleMinutiaeMatcher`` works from the image alone:
block orientation field and foreground mask, ridge enhancement steered by that field, thinning,
ridge endings and bifurcations by crossing number, and a Hough-aligned pairing of two minutiae
sets. Scores are scaled like a module's: genuine pairs mostly 50..300, impostors mostly below 30.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from hw_sim.pixels import sample_bilinear
from hw_sim.ridges import oriented_bandpass, steered_filter


class FeatureExtractionError(Exception):
    """The image cannot be turned into a character file; ``code`` is the module's answer."""

    code: int = 0x06


class MessyImageError(FeatureExtractionError):
    """The image has content but no ridge flow (answer 0x06)."""

    code = 0x06


class FeaturelessImageError(FeatureExtractionError):
    """Too little print on the glass, or too few minutiae (answer 0x07)."""

    code = 0x07


class FeatureExtractor(Protocol):
    template_size: int

    def extract(self, image: np.ndarray) -> bytes:
        """A character file (``template_size`` bytes) of an 8-bit image, or ``FeatureExtractionError``."""
        ...

    def compare(self, a: bytes, b: bytes) -> int:
        """Similarity score of two character files or templates (0 = unrelated or invalid)."""
        ...

    def merge(self, a: bytes, b: bytes) -> bytes:
        """One template from two character files of the same finger."""
        ...


#: Match score a pair must reach at security levels 1..5.
SECURITY_THRESHOLDS = {1: 30, 2: 40, 3: 50, 4: 65, 5: 80}

_MAGIC = b"MN"
_VERSION = 1
_HEADER = 8  # magic, version, count, 4 spare
_MINUTIA = 5  # x (2, top bit = bifurcation), y (2), direction (1, 256 steps over pi)
_RECORDS = 2  # a template holds two character files, as on the ZFM/R30x (2 x 256 = 512 bytes)
_MIN_MINUTIAE = 8
_MIN_SEPARATION = 8.0  # minutiae closer than this are breaks or spurs, not features
_FRAME_MARGIN = 8  # pixels at the frame's edge where ridges end because the picture does
_PAIR_DISTANCE = 8.0
_PAIR_ANGLE = np.deg2rad(15)
_SCORE_SCALE = 300  # score of a pair whose every minutia pairs up


def _half_turn(angle: np.ndarray) -> np.ndarray:
    """Angles of undirected lines folded into [-pi/2, pi/2)."""
    return np.mod(angle + np.pi / 2, np.pi) - np.pi / 2


def thin(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide skeleton of a binary ridge map (Zhang-Suen)."""
    image = mask.astype(np.uint8)
    changed = True
    while changed:
        changed = False
        for first_pass in (True, False):
            p = np.pad(image, 1)
            ring = [
                p[:-2, 1:-1],
                p[:-2, 2:],
                p[1:-1, 2:],
                p[2:, 2:],
                p[2:, 1:-1],
                p[2:, :-2],
                p[1:-1, :-2],
                p[:-2, :-2],
            ]
            p2, _, p4, _, p6, _, p8, _ = ring
            neighbours = sum(r.astype(int) for r in ring)
            transitions = sum((ring[i] == 0) & (ring[(i + 1) % 8] == 1) for i in range(8))
            if first_pass:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (image == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & side
            if remove.any():
                image[remove] = 0
                changed = True
    return image


class SimpleMinutiaeMatcher:
    """Minutiae from the image, paired under the best rotation and shift."""

    def __init__(
        self,
        width: int,
        height: int,
        template_size: int,
        *,
        block: int = 16,
        ridge_period: float = 9.5,
        max_rotation_deg: float = 30.0,
    ) -> None:
        self.template_size = template_size
        self.block = block
        self.cols, self.rows = width // block, height // block
        self.record_size = template_size // _RECORDS
        self.capacity = (self.record_size - _HEADER) // _MINUTIA
        self.max_rotation = np.deg2rad(max_rotation_deg)
        self.min_cells = int(0.18 * self.cols * self.rows)
        self._centre = np.array([self.cols * block / 2, self.rows * block / 2])
        self._spectra = oriented_bandpass(
            (self.rows * block, self.cols * block), 1 / ridge_period, radial_width=0.3, angular_width=0.3
        )

    # --- extraction ---------------------------------------------------------------------------

    def extract(self, image: np.ndarray) -> bytes:
        grey = image[: self.rows * self.block, : self.cols * self.block].astype(float)
        orientation, coherence, foreground = self._orientation_field(grey)
        if foreground.sum() < self.min_cells:
            raise FeaturelessImageError(
                f"{int(foreground.sum())} print cells, at least {self.min_cells} needed"
            )
        if coherence[foreground].mean() < 0.35:
            raise MessyImageError(f"ridge coherence {coherence[foreground].mean():.2f} is below 0.35")
        ridges = steered_filter(grey - grey.mean(), self._spectra, orientation) < 0
        skeleton = thin(ridges & self._pixels(foreground))
        region = self._pixels(self._erode(foreground))
        region[:_FRAME_MARGIN] = region[-_FRAME_MARGIN:] = False
        region[:, :_FRAME_MARGIN] = region[:, -_FRAME_MARGIN:] = False
        minutiae = self._minutiae(skeleton, orientation, region)
        if len(minutiae) < _MIN_MINUTIAE:
            raise FeaturelessImageError(f"{len(minutiae)} minutiae, at least {_MIN_MINUTIAE} needed")
        return self._pack([self._encode(minutiae)])

    def _orientation_field(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-pixel ridge direction, and per-block coherence and foreground."""
        gy, gx = np.gradient(grey)
        gxx, gyy, gxy, total, squares = (
            self._block_sum(v) for v in (gx * gx, gy * gy, gx * gy, grey, grey**2)
        )
        gxx, gyy, gxy = (self._smooth(v) for v in (gxx, gyy, gxy))
        mean = total / self.block**2
        std = np.sqrt(np.maximum(squares / self.block**2 - mean**2, 0))
        coherence = np.hypot(gxx - gyy, 2 * gxy) / (gxx + gyy + 1e-9)
        foreground = self._erode((std > 18) & (mean < 230))
        doubled = np.stack([gxx - gyy, 2 * gxy], -1) / (gxx + gyy + 1e-9)[..., None]
        ys, xs = np.mgrid[0 : grey.shape[0], 0 : grey.shape[1]]
        per_pixel = sample_bilinear(
            np.pad(doubled, ((1, 1), (1, 1), (0, 0)), mode="edge"),
            (ys + 0.5) / self.block + 0.5,
            (xs + 0.5) / self.block + 0.5,
        )
        orientation = np.mod(0.5 * np.arctan2(per_pixel[..., 1], per_pixel[..., 0]) + np.pi / 2, np.pi)
        return orientation, coherence, foreground

    def _block_sum(self, values: np.ndarray) -> np.ndarray:
        return values.reshape(self.rows, self.block, self.cols, self.block).sum(axis=(1, 3))

    @staticmethod
    def _smooth(cells: np.ndarray) -> np.ndarray:
        padded = np.pad(cells, 1, mode="edge")
        return sum(padded[r : r + cells.shape[0], c : c + cells.shape[1]] for r in range(3) for c in range(3))

    @staticmethod
    def _erode(mask: np.ndarray) -> np.ndarray:
        """``mask`` less the cells next to background; the frame's edge does not count as background."""
        padded = np.pad(mask, 1, constant_values=True)
        return mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]

    def _pixels(self, cells: np.ndarray) -> np.ndarray:
        return np.kron(cells, np.ones((self.block, self.block), dtype=bool))

    def _minutiae(self, skeleton: np.ndarray, orientation: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Rows of (x, y, direction, is_bifurcation)."""
        p = np.pad(skeleton, 1).astype(int)
        ring = [
            p[:-2, 1:-1],
            p[:-2, 2:],
            p[1:-1, 2:],
            p[2:, 2:],
            p[2:, 1:-1],
            p[2:, :-2],
            p[1:-1, :-2],
            p[:-2, :-2],
        ]
        crossings = sum(np.abs(ring[i] - ring[(i + 1) % 8]) for i in range(8)) // 2
        found = (skeleton == 1) & region & ((crossings == 1) | (crossings == 3))
        ys, xs = np.nonzero(found)
        points = np.stack([xs, ys], -1).astype(float)
        if len(points) > 1:
            distance = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
            np.fill_diagonal(distance, np.inf)
            keep = distance.min(axis=1) >= _MIN_SEPARATION
            points, ys, xs = points[keep], ys[keep], xs[keep]
        if len(points) > self.capacity:
            nearest = np.argsort(np.hypot(*(points - points.mean(axis=0)).T))[: self.capacity]
            points, ys, xs = points[nearest], ys[nearest], xs[nearest]
        kinds = (crossings[ys, xs] == 3).astype(float)
        return np.column_stack([points, orientation[ys, xs], kinds])

    def _encode(self, minutiae: np.ndarray) -> bytes:
        body = bytearray(_MAGIC + bytes((_VERSION, len(minutiae), 0, 0, 0, 0)))
        for x, y, direction, bifurcation in minutiae:
            body += (int(x) | int(bifurcation) << 15).to_bytes(2, "big") + int(y).to_bytes(2, "big")
            body.append(round(direction / np.pi * 256) % 256)
        return bytes(body)

    def _pack(self, records: list[bytes]) -> bytes:
        body = b"".join(r.ljust(self.record_size, b"\0") for r in records[:_RECORDS])
        return body.ljust(self.template_size, b"\0")

    # --- templates ----------------------------------------------------------------------------

    def _records(self, data: bytes) -> list[np.ndarray]:
        """The minutiae sets (x, y, direction) of each character file in ``data``, centred."""
        sets = []
        for start in range(0, min(len(data), self.template_size), self.record_size):
            record = data[start : start + self.record_size]
            count = record[3] if len(record) >= _HEADER else 0
            if record[:3] != _MAGIC + bytes((_VERSION,)) or not 0 < count <= self.capacity:
                continue
            raw = (
                np.frombuffer(record, np.uint8, count * _MINUTIA, _HEADER)
                .reshape(count, _MINUTIA)
                .astype(int)
            )
            xs = (raw[:, 0] & 0x7F) << 8 | raw[:, 1]
            ys = raw[:, 2] << 8 | raw[:, 3]
            sets.append(
                np.column_stack([xs - self._centre[0], ys - self._centre[1], raw[:, 4] * np.pi / 256])
            )
        return sets

    def merge(self, a: bytes, b: bytes) -> bytes:
        return self._pack([a[: self.record_size], b[: self.record_size]])

    def compare(self, a: bytes, b: bytes) -> int:
        return max((self._compare_sets(x, y) for x in self._records(a) for y in self._records(b)), default=0)

    # --- pairing ------------------------------------------------------------------------------

    def _compare_sets(self, probe: np.ndarray, reference: np.ndarray) -> int:
        rotation = _half_turn(reference[None, :, 2] - probe[:, None, 2])
        cos, sin = np.cos(rotation), np.sin(rotation)
        shift_x = reference[None, :, 0] - (cos * probe[:, None, 0] - sin * probe[:, None, 1])
        shift_y = reference[None, :, 1] - (sin * probe[:, None, 0] + cos * probe[:, None, 1])
        plausible = np.abs(rotation) <= self.max_rotation
        votes = np.column_stack(
            [rotation[plausible] / np.deg2rad(6), shift_x[plausible] / 12, shift_y[plausible] / 12]
        )
        if not len(votes):
            return 0
        _, which, counts = np.unique(
            np.rint(votes).astype(int), axis=0, return_inverse=True, return_counts=True
        )
        which = which.ravel()
        paired = 0
        for cell in np.argsort(counts)[::-1][:5]:
            mean = votes[which == cell].mean(axis=0) * np.array([np.deg2rad(6), 12, 12])
            paired = max(paired, self._paired(probe, reference, *mean))
        return round(_SCORE_SCALE * paired**2 / (len(probe) * len(reference)))

    @staticmethod
    def _paired(
        probe: np.ndarray, reference: np.ndarray, rotation: float, shift_x: float, shift_y: float
    ) -> int:
        """Minutiae of ``probe`` that, moved by the transform, land on one of ``reference`` (one-to-one)."""
        cos, sin = np.cos(rotation), np.sin(rotation)
        x = cos * probe[:, 0] - sin * probe[:, 1] + shift_x
        y = sin * probe[:, 0] + cos * probe[:, 1] + shift_y
        distance = np.hypot(x[:, None] - reference[None, :, 0], y[:, None] - reference[None, :, 1])
        turn = np.abs(_half_turn(reference[None, :, 2] - probe[:, None, 2] - rotation))
        cost = np.where((distance < _PAIR_DISTANCE) & (turn < _PAIR_ANGLE), distance, np.inf)
        best_reference = cost.argmin(axis=1)
        best_probe = cost.argmin(axis=0)
        mutual = best_probe[best_reference] == np.arange(len(probe))
        return int((mutual & np.isfinite(cost.min(axis=1))).sum())
