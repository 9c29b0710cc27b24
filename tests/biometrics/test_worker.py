"""Processor: extraction off the caller's thread, in a thread or a worker process."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime

import numpy as np
import pytest
from pipeline_fixtures import CAPTURED_AT, GOOD_SEEDS

from biometrics.errors import FrameShapeError, InvalidFingerPosition, ProcessorClosed
from biometrics.positions import FingerPosition
from biometrics.ridge_pattern import ridge_pattern
from biometrics.worker import Processor, return_freed_memory

FRAMES = [ridge_pattern(seed) for seed in GOOD_SEEDS[:3]]


def _comparable(processed):
    return processed.fgp, processed.template, processed.minutiae, processed.quality, processed.wsq


@pytest.fixture(scope="module")
def expected(extractor):
    return [_comparable(extractor.process(frame, fgp, CAPTURED_AT)) for fgp, frame in enumerate(FRAMES, 1)]


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_results_match_the_extractor(mode, expected):
    with Processor(mode=mode) as processor:
        processor.wait_ready(timeout=60)
        futures = [processor.submit(frame, fgp, CAPTURED_AT) for fgp, frame in enumerate(FRAMES, 1)]
        assert [_comparable(f.result(timeout=60)) for f in futures] == expected


def test_processing_happens_off_the_callers_thread():
    seen = []
    with Processor(mode="thread") as processor:
        future = processor.submit(FRAMES[0], 1)
        future.add_done_callback(lambda _: seen.append(threading.current_thread().name))
        future.result(timeout=60)
    assert seen and seen[0] != threading.current_thread().name


def test_worker_process_holds_the_extractor_within_the_memory_goal():
    with Processor(mode="process") as processor:
        processor.wait_ready(timeout=60)
        processor.submit(FRAMES[0], 1).result(timeout=60)
        memory = processor.rss_bytes()
    assert len(memory) == 1 and os.getpid() not in memory
    assert 50 * 2**20 < next(iter(memory.values())) <= 200 * 2**20


def test_capture_time_defaults_to_the_processors_clock():
    moment = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    with Processor(mode="thread", clock=lambda: moment) as processor:
        processed = processor.submit(FRAMES[0], 10).result(timeout=60)
    assert processed.captured_at == moment and processed.fgp is FingerPosition.LEFT_LITTLE


def test_bad_input_raises_at_submit():
    with Processor(mode="thread") as processor:
        with pytest.raises(FrameShapeError):
            processor.submit(np.zeros((288, 256, 3), np.uint8), 1)
        with pytest.raises(InvalidFingerPosition):
            processor.submit(FRAMES[0], 12)


def test_closed_processor_refuses_work():
    processor = Processor(mode="thread")
    processor.close()
    with pytest.raises(ProcessorClosed):
        processor.submit(FRAMES[0], 1)


def test_configuration_is_checked():
    with pytest.raises(ValueError):
        Processor(mode="fork")
    with pytest.raises(ValueError):
        Processor(workers=0)


def test_a_dead_worker_is_replaced():
    with Processor(mode="process") as processor:
        processor.wait_ready(timeout=60)
        (pid,) = processor.rss_bytes()
        os.kill(pid, signal.SIGKILL)  # as if native code had crashed
        for _ in range(3):
            try:
                processed = processor.submit(FRAMES[0], 1).result(timeout=60)
                break
            except BrokenProcessPool:  # submitted before the pool noticed; the next submit rebuilds
                continue
        assert processed.accepted
        assert pid not in processor.rss_bytes()


def test_glibc_is_told_to_hand_freed_big_blocks_back() -> None:
    assert return_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_call_runs_on_the_processing_thread_in_thread_mode() -> None:
    with Processor(mode="thread") as processor:
        processing = processor.call(threading.get_ident)
        assert processing != threading.get_ident()
        # From the processing thread itself it runs at once (no deadlock waiting on its own queue).
        assert processor.call(processor.call, threading.get_ident) == processing
    assert processor.call(threading.get_ident) == threading.get_ident()  # closed: the caller's thread


def test_importing_biometrics_leaves_nbis_loaded_by_another_thread() -> None:
    """nbis's per-thread storage (~47 MB) is paid by a loader thread that ends, not by the importer:
    a fresh interpreter's main thread must not be the one that loaded it."""
    probe = (
        "import sys, threading\n"
        "loaders = []\n"
        "real = threading.Thread.start\n"
        "def start(self):\n"
        "    loaders.append(self.name)\n"
        "    real(self)\n"
        "threading.Thread.start = start\n"
        "import biometrics.matching\n"
        "assert 'nbis' in sys.modules\n"
        "print(loaders)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "nbis-loader" in result.stdout


def test_a_processing_thread_busy_past_its_limit_is_not_alive_and_a_closed_one_never_is() -> None:
    with Processor(mode="thread", stuck_after_s=0.2) as processor:
        processor.wait_ready(60)
        assert processor.alive
        entered, release = threading.Event(), threading.Event()

        def stuck() -> None:
            entered.set()
            release.wait(30)

        blocker = threading.Thread(target=processor.call, args=(stuck,), daemon=True)
        blocker.start()
        assert entered.wait(30)
        try:
            for _ in range(300):  # bounded: ~3 s at most
                if not processor.alive:
                    break
                release.wait(0.01)
            assert not processor.alive  # one piece of work has run past stuck_after_s
        finally:
            release.set()
        blocker.join(30)
        assert processor.alive  # free again
    assert not processor.alive
