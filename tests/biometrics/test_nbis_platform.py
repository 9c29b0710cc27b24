"""nbis-python works on this platform: it imports, extracts minutiae with NFIQ 2, and the glibc patch
(scripts/nbis_glibc/patch_nbis.py, needed on glibc < 2.38) is in place and idempotent.

Skipped when nbis-python is not installed.  On Debian 12 / Pi OS Bookworm the install must have run
``.venv/bin/python scripts/nbis_glibc/patch_nbis.py`` after pip installed the wheel.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
PATCH_SCRIPT = REPO / "scripts" / "nbis_glibc" / "patch_nbis.py"
FINGERPRINTS = REPO.parent / "shared" / "data" / "fingerprints"
PATCH_HINT = f"run: {sys.executable} {PATCH_SCRIPT}"


def _nbis_installed() -> bool:
    try:
        importlib.metadata.distribution("nbis-python")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _nbis_installed(), reason="nbis-python is not installed")


@pytest.fixture(scope="module")
def patcher():
    """The patch script as a module (its ELF reader and package finder), without running it."""
    spec = importlib.util.spec_from_file_location("nbis_glibc_patch_nbis", PATCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lib_dir(patcher) -> Path:
    return patcher.find_package().lib_dir


@pytest.fixture(scope="module")
def needs_patch(patcher) -> bool:
    glibc = patcher.running_glibc()
    return glibc is not None and glibc < (2, 38)


@pytest.fixture(scope="module")
def nbis():
    try:
        import nbis
    except OSError as exc:  # "version `GLIBC_2.38' not found": the patch was not applied
        pytest.fail(f"import nbis failed: {exc}\n{PATCH_HINT}")
    return nbis


@pytest.fixture(scope="module")
def extractor(nbis):
    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=True, ppi=None
    )
    return nbis.new_nbis_extractor(settings)


def synthetic_print(seed: int = 0, h: int = 288, w: int = 256, period: float = 9.0) -> np.ndarray:
    """A whorl-like print at ~500 ppi: band-pass filtered noise whose ridges follow a circular
    orientation field, so ridges break and fork (minutiae) like a real print; R307 frame size."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.fft2(rng.normal(size=(h, w)))
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    radial = np.exp(-((np.hypot(fx, fy) - 1 / period) ** 2) / (2 * (0.25 / period) ** 2))
    freq_angle = np.arctan2(fy, fx)
    y, x = np.mgrid[0:h, 0:w].astype(float)
    cx, cy = w * 0.5, h * 0.45
    normal = np.mod(np.arctan2(y - cy, x - cx), np.pi)  # ridges run round the core
    ridges, best = np.zeros((h, w)), np.full((h, w), -1.0)
    for k in range(16):
        theta = k * np.pi / 16
        filtered = np.real(np.fft.ifft2(spectrum * radial * np.cos(freq_angle - theta) ** 8))
        match = np.cos(normal - theta) ** 2
        take = match > best
        ridges[take], best[take] = filtered[take], match[take]
    img = 128 - 100 * np.tanh(2 * ridges / ridges.std())
    outside = ((x - cx) / (w * 0.47)) ** 2 + ((y - h * 0.5) / (h * 0.49)) ** 2 > 1
    img[outside] = 245
    return np.clip(img, 0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def test_import_in_fresh_interpreter():
    proc = subprocess.run(
        [sys.executable, "-c", "import nbis; print(nbis.NbisExtractorSettings.__name__)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"import nbis failed:\n{proc.stderr[-2000:]}\n{PATCH_HINT}"
    assert proc.stdout.strip() == "NbisExtractorSettings"


def test_extraction_on_synthetic_print(nbis, extractor):
    image = png_bytes(synthetic_print())
    minutiae = extractor.extract_minutiae(image)
    found = minutiae.list()
    assert 20 <= len(found) <= 150
    assert all(0 <= m.x < 256 and 0 <= m.y < 288 and 0.0 <= m.reliability <= 1.0 for m in found)

    quality = minutiae.quality()  # NFIQ 2 runs through the bundled OpenCV
    assert 20 <= quality.score <= 100
    assert len(quality.actionable) == 4 and quality.features

    template = minutiae.to_iso_19794_2_2011()
    assert len(template) == 52 + 6 * len(found) + 2
    assert extractor.load_iso_19794_2_2011(template).compare(minutiae) > 100

    again = extractor.extract_minutiae(image)
    assert [(m.x, m.y, m.angle) for m in again.list()] == [(m.x, m.y, m.angle) for m in found]
    assert again.quality().score == quality.score


@pytest.mark.skipif(
    not (FINGERPRINTS / "two_fingers_400x500" / "p1_1.png").is_file(), reason="shared fingerprint data absent"
)
def test_reference_print_matches_stock_wheel(extractor):
    """biometric-deps.md §2.4: the stock wheel on glibc 2.41 gives 79 minutiae, NFIQ 2 = 68."""
    minutiae = extractor.extract_minutiae((FINGERPRINTS / "two_fingers_400x500" / "p1_1.png").read_bytes())
    assert len(minutiae.list()) == 79
    assert minutiae.quality().score == 68


def test_libraries_need_no_newer_glibc(patcher, lib_dir, needs_patch):
    if not needs_patch:
        pytest.skip("glibc >= 2.38: the stock wheel is used unpatched")
    too_new = []
    for lib in patcher.library_files(lib_dir):
        info = patcher.read_elf_info(lib)
        for imp in info.imports:
            v = imp.version and patcher.glibc_version_tuple(imp.version.name)
            if v and v > patcher.running_glibc():
                too_new.append(f"{lib.name}: {imp.name}@{imp.version.name}")
        for aux in info.verneed:
            v = patcher.glibc_version_tuple(aux.name)
            if v and v > patcher.running_glibc() and not aux.weak:
                too_new.append(f"{lib.name}: version need {aux.name} not weak")
    assert not too_new, f"{too_new}\n{PATCH_HINT}"


def test_shim_parses(patcher, lib_dir, needs_patch):
    shim_path = lib_dir / patcher.SHIM_NAME
    if not needs_patch:
        pytest.skip("glibc >= 2.38: no shim")
    assert shim_path.is_file(), PATCH_HINT
    shim = ctypes.CDLL(str(shim_path), mode=os.RTLD_LOCAL)
    strtol = shim.__isoc23_strtol
    strtol.restype, strtol.argtypes = ctypes.c_long, [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    assert strtol(b"123", None, 10) == 123
    assert strtol(b" -0x7f", None, 16) == -127
    strtoull = shim.__isoc23_strtoull
    strtoull.restype = ctypes.c_ulonglong
    strtoull.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    assert strtoull(b"18446744073709551615", None, 10) == 2**64 - 1
    end = ctypes.c_char_p()
    strtoll = shim.__isoc23_strtoll
    strtoll.restype = ctypes.c_longlong
    strtoll.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]
    assert strtoll(b"-42, rest", ctypes.byref(end), 10) == -42
    assert end.value == b", rest"
    a, b = ctypes.c_int(), ctypes.c_double()
    shim.__isoc23_sscanf.restype = ctypes.c_int
    assert shim.__isoc23_sscanf(b"7 0.25", b"%d %lf", ctypes.byref(a), ctypes.byref(b)) == 2
    assert (a.value, b.value) == (7, 0.25)


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith(".pyc")
    }


def test_patch_script_is_idempotent(lib_dir):
    check = subprocess.run(
        [sys.executable, str(PATCH_SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, f"nbis-python is not patched:\n{check.stdout}{check.stderr}\n{PATCH_HINT}"
    before = _digest(lib_dir)
    proc = subprocess.run([sys.executable, str(PATCH_SCRIPT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing to do" in proc.stdout
    assert _digest(lib_dir) == before
