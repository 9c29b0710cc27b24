"""Fixtures shared by the outbox tests: a fake clock and a fresh outbox in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from outbox_helpers import FakeClock, new_outbox

from sync.outbox import Outbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(tmp_path: Path, clock: FakeClock) -> Iterator[Outbox]:
    box = new_outbox(tmp_path, clock=clock)
    yield box
    box.close()
