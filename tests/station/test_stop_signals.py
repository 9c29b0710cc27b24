"""StopSignals: real signals sent to this process (SIGUSR1/SIGUSR2, leaving pytest's SIGINT alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from station.stop_signals import StopSignals


def test_a_signal_wakes_the_wait_and_one_sent_before_it_is_kept() -> None:
    with StopSignals([signal.SIGUSR1, signal.SIGUSR2]) as signals:
        assert signals.wait(0.05) is None
        os.kill(os.getpid(), signal.SIGUSR2)
        assert signals.wait(5) is signal.SIGUSR2


def test_a_burst_from_another_process_wakes_the_wait_and_is_swallowed() -> None:
    burst = f"import os\nfor _ in range(20000): os.kill({os.getpid()}, {int(signal.SIGUSR1)})"
    with StopSignals([signal.SIGUSR1]) as signals:
        sender = subprocess.Popen([sys.executable, "-c", burst])
        try:
            assert signals.wait(30) is signal.SIGUSR1
            assert sender.wait(60) == 0
        finally:
            sender.kill()
        while signals.wait(0) is signal.SIGUSR1:  # those that found the pipe full were dropped
            pass


def test_the_previous_handlers_are_back_after_the_block_even_after_an_error() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, _: seen.append(signum))
    try:
        with pytest.raises(RuntimeError), StopSignals([signal.SIGUSR1]):
            raise RuntimeError("start failed")
        os.kill(os.getpid(), signal.SIGUSR1)
        assert seen == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, previous)
