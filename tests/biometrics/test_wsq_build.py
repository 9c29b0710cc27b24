"""scripts/wsq_build: the source build install.sh uses on aarch64, exercised on this machine.

The full build downloads the sdist from PyPI and compiles 31 C files (~10-30 s); its module must
produce byte-identical WSQ to the installed wheel.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from biometrics.compression import encode_wsq
from biometrics.ridge_pattern import ridge_pattern

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "wsq_build" / "build_wsq.py"


@pytest.fixture(scope="module")
def build_wsq():
    spec = importlib.util.spec_from_file_location("build_wsq", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETUP_PY = """
import os, glob

from setuptools import setup,Extension

if os.name=='posix':
    extra_compile_args="-D_POSIX_SOURCE -D__NBISLE__ -D__NBIS_PNG__ -m64".split(' ')
else:
    extra_compile_args="-D_POSIX_SOURCE -D__NBISLE__ -D__NBIS_PNG__ -D__MSYS__ -DTARGET_OS".split(' ')
"""


@pytest.mark.parametrize(("machine", "has_m64"), [("x86_64", True), ("aarch64", False), ("armv7l", False)])
def test_patch_adds_m64_only_on_x86_64(build_wsq, monkeypatch, machine, has_m64):
    patched = build_wsq.patch_setup_py(SETUP_PY)
    assert build_wsq.patch_setup_py(patched) == patched  # idempotent
    monkeypatch.setattr(platform, "machine", lambda: machine)
    namespace: dict = {}
    exec(compile(patched, "setup.py", "exec"), namespace)
    assert ("-m64" in namespace["extra_compile_args"]) is has_m64
    assert "-D__NBISLE__" in namespace["extra_compile_args"]


def test_patch_refuses_an_unknown_setup_py(build_wsq):
    with pytest.raises(build_wsq.BuildError):
        build_wsq.patch_setup_py("from setuptools import setup\nsetup()\n")


@pytest.mark.slow
def test_source_build_matches_the_wheel(tmp_path):
    built = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "wheels")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = Path(built.stdout.strip().splitlines()[-1])
    assert wheel.is_file() and wheel.name.startswith("wsq-0.9-")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)

    frames = [ridge_pattern(1), np.random.default_rng(0).integers(0, 256, (97, 131), dtype=np.uint8)]
    np.save(tmp_path / "frames.npy", np.array(frames, dtype=object), allow_pickle=True)
    probe = f"""
import json, sys, numpy as np
sys.path.insert(0, {str(unpacked)!r})
import _wsq
assert _wsq.__file__.startswith({str(unpacked)!r}), _wsq.__file__
out = []
for frame in np.load({str(tmp_path / "frames.npy")!r}, allow_pickle=True):
    data = _wsq.compress(frame.tobytes(), frame.shape[0], frame.shape[1], 0.75)
    pixels, cols, rows, ppi = _wsq.decompress(data)
    out.append([data.hex(), bytes(pixels).hex(), cols, rows])
print(json.dumps(out))
"""
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-3000:]
    import _wsq  # the installed wheel, in this process

    for frame, (data_hex, pixels_hex, cols, rows) in zip(frames, json.loads(ran.stdout), strict=True):
        assert bytes.fromhex(data_hex) == encode_wsq(frame)
        wheel_pixels, wheel_cols, wheel_rows, _ = _wsq.decompress(bytes.fromhex(data_hex))
        assert (bytes.fromhex(pixels_hex), cols, rows) == (bytes(wheel_pixels), wheel_cols, wheel_rows)
