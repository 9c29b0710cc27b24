"""``SyntheticPrints``: a deterministic synthetic population with an on-disk cache of master prints."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

from biometrics.synthetic.impression import draw_impression_params, render_impression
from biometrics.synthetic.master import (
    MASTER_SHAPE,
    RIDGE_LEVELS,
    MasterParams,
    composite,
    draw_params,
    render_master,
)
from biometrics.synthetic.pattern import PatternClass

# Bump whenever master rendering changes, so stale cache entries are never read.
GENERATOR_VERSION = 2

_log = logging.getLogger(__name__)
_SAFE_SUBJECT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def default_cache_dir() -> Path:
    """``$LIVESCAN_CACHE/synthetic``, else ``$XDG_CACHE_HOME/livescan/synthetic`` (~/.cache by default)."""
    if root := os.environ.get("LIVESCAN_CACHE"):
        return Path(root) / "synthetic"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "livescan" / "synthetic"


def _rng(*key: object) -> np.random.Generator:
    digest = hashlib.sha256(repr(key).encode()).digest()
    return np.random.default_rng(np.random.SeedSequence(int.from_bytes(digest[:16], "big")))


def _check(subject: str, finger: int) -> None:
    if not isinstance(subject, str) or not subject:
        raise ValueError(f"subject must be a non-empty string, got {subject!r}")
    if isinstance(finger, bool) or not isinstance(finger, int | np.integer) or not 1 <= finger <= 10:
        raise ValueError(f"finger must be an ISO finger position 1..10, got {finger!r}")


class SyntheticPrints:
    """A synthetic population: subject id + finger position 1..10 → master print → impressions.

    Everything is a pure function of (``seed``, subject, finger[, impression index]). Masters are
    cached as PNG files under ``cache_dir`` (default: ``default_cache_dir()``); pass
    ``disk_cache=False`` to keep them in memory only. Instances are thread-safe.
    """

    def __init__(
        self,
        seed: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        disk_cache: bool = True,
        memory_cache: int = 32,
    ) -> None:
        self.seed = int(seed)
        self.cache_dir = (
            (Path(cache_dir) if cache_dir is not None else default_cache_dir()) if disk_cache else None
        )
        self.masters_generated = 0  # masters rendered (not loaded) by this instance
        self._memory: OrderedDict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._memory_size = memory_cache
        self._lock = threading.Lock()
        self._render_locks = tuple(threading.Lock() for _ in range(16))

    # --- public API -------------------------------------------------------------------------

    def pattern_class(self, subject: str, finger: int) -> PatternClass:
        """The pattern class of the finger's master (cheap: nothing is rendered)."""
        return self._params(subject, finger).pattern

    def master(self, subject: str, finger: int) -> np.ndarray:
        """The master print: uint8 MASTER_SHAPE (400 x 320), dark ridges on white, 500 ppi."""
        return composite(*self._layers(subject, finger))

    def impression(self, subject: str, finger: int, index: int) -> np.ndarray:
        """Impression ``index`` (>= 0) of the finger as an R307 frame: uint8 288 x 256, values v·17."""
        if isinstance(index, bool) or not isinstance(index, int | np.integer) or index < 0:
            raise ValueError(f"impression index must be an integer >= 0, got {index!r}")
        ridges, contact = self._layers(subject, finger)
        rng = _rng("impression", self.seed, subject, int(finger), int(index))
        params = draw_impression_params(rng)
        return render_impression(ridges, contact, self._params(subject, finger).placement, params, rng)

    def cache_path(self, subject: str, finger: int) -> Path | None:
        """Where the finger's master is (or will be) cached; None without a disk cache."""
        _check(subject, finger)
        if self.cache_dir is None:
            return None
        name = (
            subject
            if _SAFE_SUBJECT.fullmatch(subject)
            else "h-" + hashlib.sha256(subject.encode()).hexdigest()[:32]
        )
        return (
            self.cache_dir
            / f"v{GENERATOR_VERSION}"
            / f"seed-{self.seed}"
            / name
            / f"finger-{int(finger):02d}.png"
        )

    # --- internals ----------------------------------------------------------------------------

    def _params(self, subject: str, finger: int) -> MasterParams:
        _check(subject, finger)
        return draw_params(_rng("master", self.seed, subject, int(finger)), int(finger))

    def _layers(self, subject: str, finger: int) -> tuple[np.ndarray, np.ndarray]:
        """(ridges, contact) uint8 layers: from memory, else the disk cache, else rendered."""
        key = (subject, int(finger))
        # One lock per stripe of keys: a master requested by several threads is rendered once.
        with self._render_locks[hash(key) % len(self._render_locks)]:
            with self._lock:
                if key in self._memory:
                    self._memory.move_to_end(key)
                    return self._memory[key]
            path = self.cache_path(subject, finger)
            layers = _load(path) if path is not None else None
            if layers is None:
                rng = _rng("master", self.seed, subject, int(finger))
                layers = render_master(draw_params(rng, int(finger)), rng)
                if path is not None:
                    try:
                        _store(path, layers)
                    except OSError as exc:  # a read-only or full cache costs speed, not function
                        _log.warning("cannot cache synthetic master at %s: %s", path, exc)
                with self._lock:
                    self.masters_generated += 1
            for layer in layers:
                layer.setflags(write=False)
            with self._lock:
                self._memory[key] = layers
                while len(self._memory) > self._memory_size:
                    self._memory.popitem(last=False)
            return layers


# The file keeps the ridge layer as level numbers 0..RIDGE_LEVELS-1 (compresses ~2x better).
_LEVEL_TO_GREY = np.rint(np.arange(256) * (255 / (RIDGE_LEVELS - 1))).clip(0, 255).astype(np.uint8)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached layers, or None when absent or unreadable (a partial or foreign file)."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode != "LA" or image.size != MASTER_SHAPE[::-1]:
                return None
            pixels = np.asarray(image)
    except (OSError, ValueError):
        return None
    if pixels[..., 0].max() >= RIDGE_LEVELS:
        return None
    return _LEVEL_TO_GREY[pixels[..., 0]], np.ascontiguousarray(pixels[..., 1])


def _store(path: Path, layers: tuple[np.ndarray, np.ndarray]) -> None:
    """Write atomically: a temporary file in the same folder, then rename over the target."""
    ridges, contact = layers
    levels = np.rint(ridges * ((RIDGE_LEVELS - 1) / 255)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([levels, contact])).save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(buffer.getvalue())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the cache from other service users
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
