"""Every way a conversation with a fingerprint module can fail, each with a name and a remedy.

Three families:

* ``TransportError``: the bytes on the line were wrong or missing (``ProtocolError`` for a
  malformed packet, ``SensorTimeout``, ``CorruptTransfer``).
* ``PortError``: the serial port itself could not be used (missing, no permission, in use,
  unknown URL scheme).
* ``ConfirmationError``: the module answered, and the answer was a non-zero confirmation code.
  There is one subclass per documented code; ``confirmation_error(code)`` builds the right one.
"""

from __future__ import annotations


class SensorError(Exception):
    """Base class of every error raised by the driver.

    ``hint`` says what a person can do about it; it is part of ``str(error)``.
    """

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        if hint is not None:
            self.hint = hint
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# --- transport ----------------------------------------------------------------------------


class TransportError(SensorError):
    """The bytes exchanged with the module were wrong, incomplete or absent."""


class ProtocolError(TransportError):
    """A packet on the line does not follow the EF01 framing."""

    hint = "check the baud rate and the cable; the driver resynchronises on the next packet"


class ChecksumError(ProtocolError):
    """The 16-bit sum over PID, length and payload does not match the packet's checksum."""


class AddressMismatch(ProtocolError):
    """The packet came from (or was addressed to) a different module address."""

    hint = "open the sensor with the address it was given by SetAdder"


class UnexpectedPacketType(ProtocolError):
    """The packet identifier is unknown, or not the kind this point of the exchange allows."""


class BadLength(ProtocolError):
    """The length field is outside what the protocol allows (3..258, 2..258 for data)."""


class SensorTimeout(TransportError):
    """The module did not send what it should have within the time the exchange allows."""

    hint = "check power and wiring, and that no serial console is using the port"


class CorruptTransfer(TransportError):
    """A multi-packet transfer was broken: a bad packet, a missing packet or the wrong size."""

    hint = "retry; if it keeps happening lower the baud rate or the data packet size"


class SensorNotFound(TransportError):
    """No module answered at any baud rate tried."""

    hint = (
        "check the wiring (module TX to host RX and RX to TX), the 5 V supply, and that the "
        "serial console is disabled on this port; run `livescan diag sensor` for a diagnosis"
    )


class UnsupportedInstruction(SensorError):
    """The instruction is not implemented by this module model."""

    hint = "this model does not offer the instruction; choose the right model profile"


# --- the port -------------------------------------------------------------------------------


class PortError(SensorError):
    """The serial port could not be opened or used."""


class DeviceNotFound(PortError):
    hint = (
        "check the device path; on a Raspberry Pi enable the UART (raspi-config, Interface "
        "Options, Serial Port) and use /dev/ttyAMA0 on a Pi 5 or /dev/serial0 on a Pi 3/4"
    )


class PortPermissionDenied(PortError):
    hint = "add the service user to the dialout group (sudo usermod -aG dialout USER) and log in again"


class PortInUse(PortError):
    """Another process (or another opener in this process) holds the port."""

    hint = "stop the other program, or ask the running station daemon instead of opening the port"

    def __init__(self, message: str, *, pid: int | None = None) -> None:
        self.pid = pid
        super().__init__(message)


class DeviceDisconnected(PortError):
    """The port went away while in use (cable pulled, USB adapter reset, simulator unplugged)."""

    hint = "check the cable and the USB adapter, then open the sensor again"


class UnknownURLScheme(PortError):
    hint = "use a device path, sim://NAME, socket://HOST:PORT, spy://DEVICE or rfc2217://HOST:PORT"


# --- confirmation codes ---------------------------------------------------------------------


class ConfirmationError(SensorError):
    """The module answered with a non-zero confirmation code."""

    code: int = -1
    meaning: str = "unknown confirmation code"

    def __init__(self, message: str | None = None, *, code: int | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message or f"module answered 0x{self.code:02X}: {self.meaning}")


_CODES: dict[int, tuple[str, str, str]] = {
    0x01: (
        "PacketReceiveError",
        "error receiving the packet, or instruction not supported",
        "retry; if it persists the module may not support this instruction",
    ),
    0x02: ("NoFinger", "no finger on the sensor", "place a finger flat on the glass"),
    0x03: ("CaptureFailed", "failed to capture the image", "lift the finger and place it again"),
    0x04: ("ImageTooDry", "image too dry or too faint", "moisten the finger slightly and press firmly"),
    0x05: ("ImageTooWet", "image too wet or smeared", "dry the finger and clean the glass"),
    0x06: (
        "ImageTooMessy",
        "image too disorderly to extract features",
        "clean the glass and place the finger again, centred and still",
    ),
    0x07: (
        "TooFewFeatures",
        "too few feature points, or contact area too small",
        "press more firmly and centre the finger on the glass",
    ),
    0x08: ("NoMatch", "the two character files do not match", "they are different fingers"),
    0x09: ("NotFoundInLibrary", "no match found in the library", "the finger is not enrolled"),
    0x0A: (
        "MergeFailed",
        "failed to merge the character files",
        "both captures must be of the same finger; take them again",
    ),
    0x0B: ("PageOutOfRange", "page ID beyond the library", "use a page below the library capacity"),
    0x0C: (
        "TemplateReadError",
        "error reading the template, or the template is invalid",
        "the page is empty or damaged; store the template again",
    ),
    0x0D: ("TemplateUploadFailed", "error uploading the template", "retry the upload"),
    0x0E: (
        "CannotReceiveData",
        "module cannot receive the following data packets",
        "send data packets of the configured size; try a smaller packet size",
    ),
    0x0F: ("ImageUploadFailed", "error uploading the image", "capture again, then upload"),
    0x10: ("DeleteFailed", "failed to delete the templates", "check the page range"),
    0x11: ("ClearLibraryFailed", "failed to clear the library", "retry; power-cycle the module"),
    0x12: ("LowPowerFailed", "cannot enter the low-power state", "retry"),
    0x13: (
        "WrongPassword",
        "wrong password",
        "give the module's password; `livescan diag sensor` can try candidates",
    ),
    0x14: ("ResetFailed", "system reset failed", "power-cycle the module"),
    0x15: (
        "NoValidImage",
        "no valid image in the image buffer",
        "capture an image (GenImg) before converting or uploading it",
    ),
    0x16: ("UpgradeFailed", "online upgrade failed", "do not upgrade firmware from the station"),
    0x17: (
        "ResidualFingerprint",
        "residual fingerprint, or the finger did not move between captures",
        "lift the finger and clean the glass",
    ),
    0x18: ("FlashError", "error writing flash", "retry; a persistent error means the module is failing"),
    0x19: ("UndefinedError", "undefined error", "retry; power-cycle the module"),
    0x1A: ("InvalidRegister", "invalid register number", "use register 4, 5 or 6"),
    0x1B: ("BadRegisterContent", "bad register content", "use a value the register allows"),
    0x1C: ("BadNotepadPage", "wrong notepad page number", "use a page from 0 to 15"),
    0x1D: ("PortOperationFailed", "port operation failed", "retry"),
    0x1E: ("AutoEnrollFailed", "automatic enrolment failed", "retry the enrolment"),
    0x1F: ("LibraryFull", "the library is full", "delete templates or empty the library"),
    0x20: ("AddressIncorrect", "address code incorrect", "use the module's address"),
    0x21: (
        "PasswordNotVerified",
        "the password must be verified first",
        "send VfyPwd with the module's password after every power-up",
    ),
    0x22: ("TemplateEmpty", "the template is empty", "store a template on that page first"),
    0x24: ("LibraryEmpty", "the library is empty", "enrol a template first"),
    0x26: ("OperationTimeout", "the module timed out", "retry"),
    0x27: ("AlreadyExists", "the fingerprint already exists", "it is enrolled already"),
    0x29: ("SensorHardwareError", "sensor hardware error", "the module needs repair or replacement"),
    0xFC: ("UnsupportedCommand", "command not supported", "this model does not offer the instruction"),
    0xFD: ("HardwareError", "hardware error", "the module needs repair or replacement"),
    0xFE: ("ExecutionFailed", "command execution failed", "retry; power-cycle the module"),
}

CONFIRMATION_MEANINGS: dict[int, str] = {0x00: "OK"} | {c: m for c, (_, m, _) in _CODES.items()}

_CLASSES: dict[int, type[ConfirmationError]] = {}
for _code, (_name, _meaning, _hint) in _CODES.items():
    _cls = type(
        _name,
        (ConfirmationError,),
        {
            "code": _code,
            "meaning": _meaning,
            "hint": _hint,
            "__doc__": f"Confirmation code 0x{_code:02X}: {_meaning}.",
        },
    )
    _cls.__module__ = __name__
    globals()[_name] = _cls
    _CLASSES[_code] = _cls


class UnknownConfirmation(ConfirmationError):
    """A confirmation code no manual documents."""

    hint = "power-cycle the module; record the traffic with `livescan diag record` and report it"


def confirmation_error(code: int) -> ConfirmationError:
    """The exception for a non-zero confirmation code."""
    cls = _CLASSES.get(code)
    if cls is None:
        return UnknownConfirmation(code=code)
    return cls()


def confirmation_class(code: int) -> type[ConfirmationError]:
    """The exception class for a confirmation code (``UnknownConfirmation`` when undocumented)."""
    return _CLASSES.get(code, UnknownConfirmation)


# Names defined dynamically above, listed for linters and readers.
PacketReceiveError: type[ConfirmationError]
NoFinger: type[ConfirmationError]
CaptureFailed: type[ConfirmationError]
ImageTooDry: type[ConfirmationError]
ImageTooWet: type[ConfirmationError]
ImageTooMessy: type[ConfirmationError]
TooFewFeatures: type[ConfirmationError]
NoMatch: type[ConfirmationError]
NotFoundInLibrary: type[ConfirmationError]
MergeFailed: type[ConfirmationError]
PageOutOfRange: type[ConfirmationError]
TemplateReadError: type[ConfirmationError]
TemplateUploadFailed: type[ConfirmationError]
CannotReceiveData: type[ConfirmationError]
ImageUploadFailed: type[ConfirmationError]
DeleteFailed: type[ConfirmationError]
ClearLibraryFailed: type[ConfirmationError]
LowPowerFailed: type[ConfirmationError]
WrongPassword: type[ConfirmationError]
ResetFailed: type[ConfirmationError]
NoValidImage: type[ConfirmationError]
UpgradeFailed: type[ConfirmationError]
ResidualFingerprint: type[ConfirmationError]
FlashError: type[ConfirmationError]
UndefinedError: type[ConfirmationError]
InvalidRegister: type[ConfirmationError]
BadRegisterContent: type[ConfirmationError]
BadNotepadPage: type[ConfirmationError]
PortOperationFailed: type[ConfirmationError]
AutoEnrollFailed: type[ConfirmationError]
LibraryFull: type[ConfirmationError]
AddressIncorrect: type[ConfirmationError]
PasswordNotVerified: type[ConfirmationError]
TemplateEmpty: type[ConfirmationError]
LibraryEmpty: type[ConfirmationError]
OperationTimeout: type[ConfirmationError]
AlreadyExists: type[ConfirmationError]
SensorHardwareError: type[ConfirmationError]
UnsupportedCommand: type[ConfirmationError]
HardwareError: type[ConfirmationError]
ExecutionFailed: type[ConfirmationError]
