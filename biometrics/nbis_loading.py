"""Load nbis-python on a short-lived thread, before any module of this package imports it.

Its library has ~47 MB of thread-local storage (``.tbss``), which glibc allocates and zero-fills
for each thread that touches it, and loading the library touches it. Loaded here, the importing
thread (a daemon's main thread, which never runs NBIS) keeps no copy; the loader's copy is freed as
it ends. ``biometrics/__init__.py`` calls this, so it runs before ``extractor``, ``matching`` or
``worker`` import nbis, whatever imports them first.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading


def load_nbis_off_this_thread() -> None:
    """Import nbis-python on a short-lived thread unless it is loaded already. Any import error is
    raised again by the ordinary import that follows."""
    if "nbis" in sys.modules:
        return
    loader = threading.Thread(target=_try_import, args=("nbis",), name="nbis-loader", daemon=True)
    loader.start()
    loader.join()


def _try_import(name: str) -> None:
    with contextlib.suppress(Exception):  # raised again by the caller's own import
        importlib.import_module(name)
