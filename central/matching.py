"""The matcher seam: what the centre needs from the search, and how a matcher is chosen.

The search itself (decode the WSQ images, extract templates, search both galleries concurrently,
fuse scores, compute the offence level) lives in ``central.search``; the service only calls
``matcher.search(booking)`` and reads the outcome's attributes typed below. A matcher is named
``module:factory``; the factory is called with the data directory and ``keys=`` the key file
the centre's data is sealed under (None: the default in the data directory). The
default is ``central.search:open_matcher``. Matchers are called from several worker threads at
once and must be thread-safe.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

from sync.transaction import Booking

DEFAULT_MATCHER = "central.search:open_matcher"


class CandidateLike(Protocol):
    @property
    def subject_id(self) -> str: ...
    @property
    def score(self) -> int: ...
    @property
    def rank(self) -> int: ...
    @property
    def fingers_matched(self) -> int: ...


class GalleryResultLike(Protocol):
    @property
    def gallery(self) -> str: ...
    @property
    def hit(self) -> bool: ...
    @property
    def candidates(self) -> tuple[CandidateLike, ...]: ...
    def as_dict(self) -> dict[str, Any]: ...


class SearchOutcomeLike(Protocol):
    @property
    def criminal(self) -> GalleryResultLike: ...
    @property
    def immigration(self) -> GalleryResultLike: ...
    @property
    def record_summary(self) -> dict[str, Any] | None: ...
    @property
    def level(self) -> int | None: ...


class Matcher(Protocol):
    def search(self, booking: Booking) -> SearchOutcomeLike: ...


class MatcherFactory(Protocol):
    def __call__(self, data_dir: Path, *, keys: Path | None = None) -> Matcher: ...


class MatcherUnavailable(RuntimeError):
    """The named matcher cannot be imported or built."""


def load_matcher(spec: str, data_dir: Path, key_file: Path | None = None) -> Matcher:
    """Import ``module:factory`` and build the matcher for ``data_dir`` and ``key_file``."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise MatcherUnavailable(f"matcher {spec!r} must be written module:factory")
    try:
        factory: MatcherFactory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise MatcherUnavailable(f"matcher {spec!r} cannot be imported: {exc}") from exc
    return factory(data_dir, keys=key_file)
