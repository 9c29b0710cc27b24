#!/usr/bin/env python3
"""Build the ``wsq`` 0.9 wheel from source where PyPI has no wheel (aarch64: Raspberry Pi).

The sdist's setup.py adds ``-m64`` on every POSIX system; gcc on aarch64 rejects it, so
``pip install wsq`` fails there. This script downloads the sdist with pip, checks its SHA-256,
patches setup.py to add ``-m64`` only on x86_64, and builds a wheel with this Python's pip.
Without ``-m64`` all 31 C files build on aarch64 and produce byte-identical WSQ to x86.

    .venv/bin/python scripts/wsq_build/build_wsq.py [--out DIR] [--install]

Needs a C compiler and Python headers (Debian: gcc python3-dev) and access to PyPI. Run it
before installing the project, so pip finds wsq==0.9 already satisfied. wsq is CeCILL-C: this
patch to its setup.py is published here, as the licence asks.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.9"
SDIST = f"wsq-{VERSION}.tar.gz"
SDIST_SHA256 = "862a61e47a4c34412c51aeea7e0fabd6f478b3c29903c68fd978ff1082d7096b"
UNPATCHED = """    extra_compile_args="-D_POSIX_SOURCE -D__NBISLE__ -D__NBIS_PNG__ -m64".split(' ')\n"""
PATCHED = """    extra_compile_args="-D_POSIX_SOURCE -D__NBISLE__ -D__NBIS_PNG__".split(' ')
    if platform.machine() in ("x86_64", "AMD64"):  # livescan patch: aarch64 gcc rejects -m64
        extra_compile_args.append("-m64")
"""


class BuildError(Exception):
    pass


def patch_setup_py(text: str) -> str:
    """setup.py with ``-m64`` only on x86_64; already patched text comes back unchanged."""
    if PATCHED in text:
        return text
    if UNPATCHED not in text:
        raise BuildError("wsq setup.py is not the one this patch was written for; review it by hand")
    return "import platform\n" + text.replace(UNPATCHED, PATCHED)


def download_sdist(directory: Path) -> Path:
    pip(["download", "--no-deps", "--no-binary", ":all:", f"wsq=={VERSION}", "-d", str(directory)])
    sdist = directory / SDIST
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise BuildError(f"{SDIST} has SHA-256 {digest}, expected {SDIST_SHA256}; not building it")
    return sdist


def build_wheel(out: Path) -> Path:
    """Download, patch, build; returns the wheel's path in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wsq-build-") as scratch:
        work = Path(scratch)
        with tarfile.open(download_sdist(work)) as archive:
            archive.extractall(work, filter="data")
        source = work / f"wsq-{VERSION}"
        setup_py = source / "setup.py"
        setup_py.write_text(patch_setup_py(setup_py.read_text()))
        before = set(out.glob("wsq-*.whl"))
        pip(["wheel", "--no-deps", "--wheel-dir", str(out), str(source)])
    built = sorted(set(out.glob("wsq-*.whl")) - before) or sorted(out.glob(f"wsq-{VERSION}-*.whl"))
    if not built:
        raise BuildError(f"pip reported success but left no wsq wheel in {out}")
    return built[-1]


def pip(arguments: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *arguments]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description="Build the wsq wheel from its patched sdist.")
    parser.add_argument("--out", type=Path, default=Path("build/wheels"), help="wheel directory")
    parser.add_argument("--install", action="store_true", help="pip install the built wheel")
    args = parser.parse_args()
    try:
        wheel = build_wheel(args.out)
        if args.install:
            pip(["install", "--force-reinstall", "--no-deps", str(wheel)])
    except BuildError as exc:
        print(f"build_wsq: {exc}", file=sys.stderr)
        print(
            "build_wsq: needs gcc and Python headers (Debian: apt-get install gcc python3-dev)",
            file=sys.stderr,
        )
        return 1
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
