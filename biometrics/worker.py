"""Processing off the caller's thread, so capture of finger N+1 overlaps processing of finger N.

Measured on this 2-core x86_64 machine (``bench/pipeline.py``: 60 R307-like 256x288 frames, two
runs while no other job was running; one frame takes ~100 ms, NFIQ 2 using a helper thread):

==============  ============  ==========================================================
model           frames/s      memory
==============  ============  ==========================================================
1 thread        8.7-9.5       the extractor (~140 MB) lives in the caller's process
2 threads       8.0-9.8       no gain: NFIQ 2 serialises itself inside nbis-python
1 process       8.1-9.4       worker RSS 155 MB after warm-up; the caller is untouched
2 processes     13.4-15.9     155 MB per worker
==============  ============  ==========================================================

The default is one worker *process*: a station captures one finger every few seconds (an R307
upload alone takes seconds), far below what one worker handles, so a second worker would only
double the memory. A separate process keeps the extractor's memory out of the station daemon,
bounded on its own (goal <= 200 MB), and a crash in native code costs one worker, not the daemon
(the pool is rebuilt on the next submit). ``workers=2`` gives ~1.6x the throughput for batch work
such as gallery enrolment. ``mode="thread"`` avoids the extra process where memory is
shared anyway (tests, tools); all threads share one ``Extractor`` per process.

Memory, measured with ``VmRSS`` (``bench/daemon.py``): loading nbis-python costs ~53 MB, most of it
~48 MB of per-thread storage for the importing thread, and each further thread that runs NBIS code
(extraction or bozorth3) costs as much again, kept for as long as the process lives -- run NBIS on
as few threads as possible. The NFIQ 2 model adds ~35 MB and a first frame ~12 MB once
``return_freed_memory`` stops glibc keeping the model loader's freed temporaries (~25 MB more).
A spawned worker re-imports its parent's ``__main__`` (a whole command line: ~50 MB more per
worker), which is why the station daemon processes on a thread (``station.daemon``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal, TypeVar

import numpy as np

from biometrics.errors import ProcessorClosed
from biometrics.extractor import Clock, Extractor, ProcessedPrint, utc_now
from biometrics.frames import validate_frame
from biometrics.positions import finger_position
from biometrics.ridge_pattern import ridge_pattern

Mode = Literal["process", "thread"]
WARM_UP_SEED = 1  # a test pattern on which mindtct and NFIQ 2 both run fully
STUCK_AFTER_S = 60.0  # one piece of work running longer than this means the processing thread is stuck
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 128 * 1024

T = TypeVar("T")

_extractor: Extractor | None = None
_this_thread = threading.local()  # .processor: the Processor whose thread this is (thread mode)
_extractor_lock = threading.Lock()


class Processor:
    """``submit(frame, fgp)`` returns a Future of a ``ProcessedPrint``. Use as a context manager
    or call ``close()``. Bad input (``InvalidFrame``, ``InvalidFingerPosition``) raises at once;
    failures while processing are raised by ``future.result()``. Submit from any thread."""

    def __init__(
        self,
        *,
        mode: Mode = "process",
        workers: int = 1,
        clock: Clock = utc_now,
        stuck_after_s: float = STUCK_AFTER_S,
    ) -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', got {mode!r}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.mode = mode
        self.workers = workers
        self._clock = clock
        self._lock = threading.Lock()
        self._ready_lock = threading.Lock()
        self._closed = False
        self._stuck_after_s = stuck_after_s
        self._running: dict[int, float] = {}  # thread mode: processing thread -> when its work started
        self._executor = self._start()

    def submit(
        self, frame: np.ndarray, fgp: int, captured_at: datetime | None = None
    ) -> Future[ProcessedPrint]:
        """Queue one frame; ``captured_at`` defaults to the clock's time now (the capture time)."""
        pixels = validate_frame(frame)
        position = finger_position(fgp)
        moment = captured_at if captured_at is not None else self._clock()
        with self._lock:
            if self._closed:
                raise ProcessorClosed("this Processor has been closed")
            try:
                return self._submit(_process, pixels, position, moment)
            except BrokenExecutor:  # a worker died (native crash, OOM kill): start afresh
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()
                return self._submit(_process, pixels, position, moment)

    def call(self, fn: Callable[..., T], /, *args: Any) -> T:
        """``fn(*args)`` where this Processor runs NBIS: in thread mode on its processing thread (at
        once when called from it), so that no other thread pays nbis's per-thread memory (see the
        module docstring); in process mode, or once closed, on the calling thread. Blocks until done;
        never call it holding a lock that code running on the processing thread waits for."""
        if self.mode != "thread" or getattr(_this_thread, "processor", None) is self:
            return fn(*args)
        with self._lock:
            future = None if self._closed else self._submit(fn, *args)
        return fn(*args) if future is None else future.result()

    @property
    def alive(self) -> bool:
        """Taking work: not closed and, in thread mode, no piece of work running for longer than
        ``stuck_after_s`` (a process worker that dies is replaced at the next submit)."""
        if self._closed:
            return False
        now = time.monotonic()
        return all(now - started < self._stuck_after_s for started in list(self._running.values()))

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until every worker has loaded NFIQ 2 and processed a warm-up frame."""
        with self._ready_lock:
            if self.mode == "thread":
                self._warm_up_done.result(timeout)
                return
            while self._ready_workers < self.workers:
                self._ready_queue.get(timeout=timeout)
                self._ready_workers += 1

    def rss_bytes(self) -> dict[int, int]:
        """Resident memory of each process holding an extractor, by pid (Linux)."""
        if self.mode == "thread":
            return {os.getpid(): _rss_bytes(os.getpid())}
        processes = getattr(self._executor, "_processes", None) or {}  # private, stable since 3.8
        return {pid: _rss_bytes(pid) for pid in list(processes)}

    def close(self, wait: bool = True) -> None:
        """Stop taking work. ``wait=False`` drops what has not started: its futures, and a ``call``
        waiting on one, raise ``concurrent.futures.CancelledError``."""
        with self._lock:
            self._closed = True
            self._executor.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> Processor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> Executor:
        # Load NFIQ 2 now rather than at the first finger (~0.5 s; ~1.5 s for a new process).
        self._ready_workers = 0
        if self.mode == "thread":
            executor: Executor = ThreadPoolExecutor(
                self.workers, thread_name_prefix="biometrics", initializer=self._mark_thread
            )
            self._warm_up_done = executor.submit(self._timed, _warm_up)
            return executor
        context = multiprocessing.get_context("spawn")  # never fork a multi-threaded station
        self._ready_queue = context.Queue()
        executor = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_start_worker, initargs=(self._ready_queue,)
        )
        for _ in range(self.workers):
            executor.submit(_noop)  # a submit to a pool without an idle worker starts one
        return executor

    def _mark_thread(self) -> None:
        _this_thread.processor = self

    def _submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        if self.mode == "thread":
            return self._executor.submit(self._timed, fn, *args)
        return self._executor.submit(fn, *args)

    def _timed(self, fn: Callable[..., T], /, *args: Any) -> T:
        thread = threading.get_ident()
        self._running[thread] = time.monotonic()
        try:
            return fn(*args)
        finally:
            del self._running[thread]


def shared_extractor() -> Extractor:
    """This process's Extractor, created on first use."""
    global _extractor
    with _extractor_lock:
        if _extractor is None:
            return_freed_memory()
            _extractor = Extractor()
        return _extractor


def return_freed_memory() -> bool:
    """Ask glibc to serve allocations of 128 KiB and more from mappings of their own, handed back to
    the system when freed. By default glibc raises that threshold as big blocks are freed and its
    heap keeps them: loading the NFIQ 2 model leaves ~25 MB of freed temporaries resident that way.
    Process-wide; False where the C library is not glibc (nothing to tune)."""
    name = ctypes.util.find_library("c")
    try:
        return bool(name and ctypes.CDLL(name).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def _process(pixels: np.ndarray, fgp: int, captured_at: datetime) -> ProcessedPrint:
    return shared_extractor().process(pixels, fgp, captured_at)


def _warm_up() -> None:
    shared_extractor().process(ridge_pattern(WARM_UP_SEED), 1)


def _start_worker(ready: multiprocessing.Queue) -> None:
    _warm_up()
    ready.put(os.getpid())


def _noop() -> None:
    return None


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
