"""Every way the print pipeline can refuse its input, each with a name and a remedy.

Quality problems with a real frame (a faint, off-centre or smudged print, a blank or noise image)
are *not* errors: they come back as a rejected ``QualityReport`` with officer feedback. Errors are
for input that cannot be processed at all (wrong type, shape or size, a corrupt template or WSQ
stream, an invalid finger position) and for failures inside the native libraries.
"""

from __future__ import annotations


class BiometricError(Exception):
    """Base class of every error raised by ``biometrics``.

    ``hint`` says what to do about it; it is part of ``str(error)``.
    """

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        if hint is not None:
            self.hint = hint
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self):  # keep message and hint across a process pool
        return (_rebuild, (type(self), self.message, self.hint))


def _rebuild(cls: type[BiometricError], message: str, hint: str) -> BiometricError:
    return cls(message, hint=hint)


# --- frames -------------------------------------------------------------------------------------


class InvalidFrame(BiometricError):
    """The frame is not an image the pipeline can process."""


class FrameTypeError(InvalidFrame, TypeError):
    """The frame is not a numpy array."""

    hint = "pass the image as a 2-D numpy uint8 array, e.g. numpy.asarray(pil_image.convert('L'))"


class FrameDtypeError(InvalidFrame):
    """The frame's pixels are not 8-bit unsigned integers."""

    hint = "convert to 8-bit grey first (R307 4-bit pixels are stored as value * 17)"


class FrameShapeError(InvalidFrame):
    """The frame is not a single-channel 2-D image (e.g. RGB, a stack, a flat vector)."""

    hint = "pass one greyscale image as a (rows, cols) array; convert colour images to grey"


class EmptyFrame(InvalidFrame):
    """The frame has no pixels."""

    hint = "check that the sensor upload completed; capture the finger again"


class FrameTooSmall(InvalidFrame):
    """The frame is below the 32x32 minimum of NBIS (and of a usable print)."""

    hint = "pass the whole sensor frame (R307: 256 x 288), not a thumbnail or a crop"


# --- records ------------------------------------------------------------------------------------


class InvalidFingerPosition(BiometricError, ValueError):
    """The finger position is not one of the ten single fingers (FGP 1..10)."""

    hint = "use FGP 1..5 for right thumb..little and 6..10 for left thumb..little"


class TemplateError(BiometricError, ValueError):
    """Bytes that should be an ISO/IEC 19794-2:2011 minutiae record are not one."""

    hint = "re-extract the template from the print image; stored templates may be truncated"


class NoMinutiae(BiometricError):
    """A template was asked for a print in which no minutiae were found."""

    hint = "retake the print; a template needs at least one minutia"


class WsqError(BiometricError):
    """WSQ encoding or decoding failed."""

    hint = "WSQ needs an 8-bit grey image of at least 32 x 32; re-encode from the raw frame"


# --- native libraries and workers ---------------------------------------------------------------


class ExtractionError(BiometricError):
    """NBIS or NFIQ 2 failed on an image that passed validation."""

    hint = "retake the print; if it repeats, run tests/biometrics/test_nbis_platform.py"


class ProcessorClosed(BiometricError, RuntimeError):
    """A frame was submitted to a Processor that has been closed."""

    hint = "create a new Processor (one per station process) and keep it open while capturing"
