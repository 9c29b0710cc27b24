"""Shared fixtures of the central service tests: a site PKI and a foreign one."""

from __future__ import annotations

import pytest
from central_helpers import OPERATOR, STATION_A, STATION_B

from central.pki import PkiLayout, init_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    root = tmp_path_factory.mktemp("pki")
    init_pki(root, stations=[STATION_A, STATION_B], operators=[OPERATOR], site="test")
    return PkiLayout(root)


@pytest.fixture(scope="session")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    """Another CA issuing a certificate for the same station name."""
    root = tmp_path_factory.mktemp("foreign-pki")
    init_pki(root, stations=[STATION_A], site="elsewhere")
    return PkiLayout(root)
