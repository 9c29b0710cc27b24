"""One frame in, one ``ProcessedPrint`` out: NFIQ 2, minutiae, ISO template, WSQ, quality gate.

Create one ``Extractor`` per process and keep it: creating it loads the NFIQ 2 model (~0.5 s,
RSS ~126 MB, peak ~190 MB while loading). ``process`` is safe to call from several threads; the
calls into nbis-python are serialised by a lock (the library's docstring asks for that; NFIQ 2
serialises itself anyway, so two threads ran no faster without the lock). For parallel throughput
use processes (``biometrics.worker.Processor``).

Minutiae and NFIQ 2 always come from the raw frame; WSQ is only for storage and transmission. WSQ
is encoded on a side thread while NBIS runs (NBIS releases the GIL), which hides its ~2 ms.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import nbis
import numpy as np

from biometrics.compression import encode_wsq
from biometrics.errors import ExtractionError
from biometrics.frames import encode_pgm, foreground_centre, validate_frame
from biometrics.iso import finalise_template
from biometrics.positions import FingerPosition, finger_position
from biometrics.quality import QualityReport, assess_quality

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class MinutiaKind(StrEnum):
    RIDGE_ENDING = "ridge_ending"
    BIFURCATION = "bifurcation"


@dataclass(frozen=True)
class Minutia:
    x: int  # pixels from the left
    y: int  # pixels from the top
    angle: float  # degrees counter-clockwise from east (multiples of 11.25)
    reliability: float  # mindtct reliability 0..1
    kind: MinutiaKind


@dataclass(frozen=True)
class ProcessedPrint:
    """Everything the station keeps about one captured finger. Picklable."""

    fgp: FingerPosition
    captured_at: datetime
    width: int
    height: int
    quality: QualityReport
    minutiae: tuple[Minutia, ...]
    template: bytes | None  # ISO/IEC 19794-2:2011; None when no minutia was found
    wsq: bytes  # 0.75 bpp, 500 ppi
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    @property
    def nfiq2(self) -> int | None:
        return self.quality.nfiq2

    @property
    def accepted(self) -> bool:
        return self.quality.accepted

    @property
    def feedback(self) -> tuple[str, ...]:
        return self.quality.feedback


class Extractor:
    """Long-lived NBIS + NFIQ 2 front end. ``clock`` stamps frames submitted without a capture
    time (it must return an aware datetime; naive ones are taken as UTC)."""

    def __init__(self, *, clock: Clock = utc_now) -> None:
        settings = nbis.NbisExtractorSettings(
            min_quality=0.0,  # keep every minutia: any floor lowered genuine scores (calibration)
            get_center=False,
            check_fingerprint=False,  # SIVV rejects real prints; the quality gate decides instead
            compute_nfiq2=True,
            ppi=None,  # 500
        )
        self._nbis = nbis.new_nbis_extractor(settings)
        self._lock = threading.Lock()
        self._clock = clock
        self._side = ThreadPoolExecutor(1, thread_name_prefix="wsq")

    def process(self, frame: np.ndarray, fgp: int, captured_at: datetime | None = None) -> ProcessedPrint:
        """Quality, minutiae, template and WSQ for one frame of finger ``fgp`` (1..10).

        Raises ``InvalidFrame`` subclasses for unusable input, ``InvalidFingerPosition``, and
        ``ExtractionError`` if the native code fails. A blank or noise frame is not an error: it
        comes back with ``quality.is_print`` False and feedback for the officer.
        """
        started = time.perf_counter()
        pixels = validate_frame(frame)
        position = finger_position(fgp)
        moment = captured_at if captured_at is not None else self._clock()
        timings: dict[str, float] = {}
        # WSQ holds the GIL for ~2 ms while NBIS runs without it: encode on the side.
        wsq_done = self._side.submit(_timed_wsq, pixels)
        with _stage(timings, "pgm"):
            encoded = encode_pgm(pixels)
        with _stage(timings, "nfiq2_minutiae"):
            nfiq2, actionable, minutiae, library_record = self._extract(encoded)
        with _stage(timings, "iso"):
            template = (
                finalise_template(library_record, fgp=position, captured_at=moment, nfiq2=nfiq2)
                if library_record is not None
                else None
            )
        wsq, timings["wsq"] = wsq_done.result()
        quality = assess_quality(
            nfiq2, actionable, [m.reliability for m in minutiae], _foreground_offset(pixels)
        )
        timings["total"] = (time.perf_counter() - started) * 1000.0
        return ProcessedPrint(
            fgp=position,
            captured_at=moment,
            width=pixels.shape[1],
            height=pixels.shape[0],
            quality=quality,
            minutiae=minutiae,
            template=template,
            wsq=wsq,
            timings_ms=timings,
        )

    def _extract(
        self, encoded: bytes
    ) -> tuple[int | None, dict[str, float], tuple[Minutia, ...], bytes | None]:
        with self._lock:
            try:
                found = self._nbis.extract_minutiae(encoded)
                views = found.list()
                result = found.quality()
                record = found.to_iso_19794_2_2011() if views else None
            except Exception as exc:  # NbisError subclasses, and InternalError on a Rust panic
                raise ExtractionError(f"NBIS/NFIQ 2 failed: {type(exc).__name__}: {exc}") from None
        minutiae = tuple(
            Minutia(
                x=v.x,
                y=v.y,
                angle=v.angle,
                reliability=v.reliability,
                kind=(
                    MinutiaKind.BIFURCATION
                    if v.kind == nbis.MinutiaKind.BIFURCATION
                    else MinutiaKind.RIDGE_ENDING
                ),
            )
            for v in views
        )
        # nbis-python reports a failed NFIQ 2 computation as score 0 with no actionable values
        actionable = {value.name: value.value for value in result.actionable}
        nfiq2 = int(result.score) if actionable else None
        return nfiq2, actionable, minutiae, record


def _foreground_offset(pixels: np.ndarray) -> tuple[float, float]:
    rows, cols = pixels.shape
    centre_row, centre_col = foreground_centre(pixels)
    return (centre_col - cols / 2) / cols, (centre_row - rows / 2) / rows


def _timed_wsq(pixels: np.ndarray) -> tuple[bytes, float]:
    mark = time.perf_counter()
    return encode_wsq(pixels), (time.perf_counter() - mark) * 1000.0


@contextmanager
def _stage(timings: dict[str, float], name: str) -> Iterator[None]:
    mark = time.perf_counter()
    yield
    timings[name] = (time.perf_counter() - mark) * 1000.0
