"""The module's non-volatile memory: library, system parameters, password, address, notepad.

It survives power cycles; with a ``path`` it is also written to a JSON file after every change
(atomically: a temporary file renamed over the old one) and read back on the next start.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from drivers.codec import DEFAULT_ADDRESS, DEFAULT_PASSWORD, NOTEPAD_PAGE_SIZE, NOTEPAD_PAGES

_FORMAT = 1


def _blank_notepad() -> list[bytes]:
    return [bytes(NOTEPAD_PAGE_SIZE) for _ in range(NOTEPAD_PAGES)]


@dataclass
class Flash:
    capacity: int
    library: dict[int, bytes] = field(default_factory=dict)
    security_level: int = 3
    address: int = DEFAULT_ADDRESS
    packet_size_code: int = 2
    baud_multiplier: int = 6
    password: int = DEFAULT_PASSWORD
    notepad: list[bytes] = field(default_factory=_blank_notepad)
    path: Path | None = None

    @classmethod
    def open(cls, path: str | Path | None, capacity: int, *, password: int = DEFAULT_PASSWORD) -> Flash:
        """The flash saved at ``path``, or a factory-fresh one (with ``password``) to be saved there."""
        if path is not None and Path(path).exists():
            return cls.load(path)
        return cls(capacity=capacity, password=password, path=Path(path) if path is not None else None)

    @classmethod
    def load(cls, path: str | Path) -> Flash:
        state = json.loads(Path(path).read_text())
        if state.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a simulator flash file (format {state.get('format')!r})")
        return cls(
            capacity=state["capacity"],
            library={int(page): base64.b64decode(data) for page, data in state["library"].items()},
            security_level=state["security_level"],
            address=state["address"],
            packet_size_code=state["packet_size_code"],
            baud_multiplier=state["baud_multiplier"],
            password=state["password"],
            notepad=[bytes.fromhex(page) for page in state["notepad"]],
            path=Path(path),
        )

    def to_json(self) -> dict:
        return {
            "format": _FORMAT,
            "capacity": self.capacity,
            "security_level": self.security_level,
            "address": self.address,
            "packet_size_code": self.packet_size_code,
            "baud_multiplier": self.baud_multiplier,
            "password": self.password,
            "notepad": [page.hex() for page in self.notepad],
            "library": {
                str(page): base64.b64encode(data).decode() for page, data in sorted(self.library.items())
            },
        }

    def commit(self) -> None:
        """Write to ``path`` if there is one."""
        if self.path is not None:
            self.save(self.path)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as file:
                json.dump(self.to_json(), file)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
