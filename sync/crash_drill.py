"""The kill -9 drill: a child process queues and sends bookings; its parent SIGKILLs it and checks.

    drill = CrashDrill(work_dir, endpoint, centre_counts=..., seed=7)
    report = drill.run(cycles=25)        # DrillReport: cycles, saved, lost, duplicated, ...

The child (``python -m sync.crash_drill child ...``) is the daemon's queue-and-send path: an
``Outbox`` and a ``SyncWorker`` against the real centre, driven over stdin (``submit N``, ``ack``,
``quit``) and answering on stdout (``ready``, ``saved TCN``, ``acked TCN``). It may be told to stop
at one crash point (``sync.crashpoints``): it prints ``at POINT`` and waits there, and the parent
kills it at that exact moment; in the other cycles the parent kills it after a random delay.

After each kill the parent checks the database (``PRAGMA integrity_check``, every booking the
child reported saved is there, every acknowledgement it reported is there); after each restart,
that no lease outlived its process. At the end a last child drains the queue, and the centre must
hold every TCN of the outbox exactly once (``centre_counts``: TCN -> rows, read from the centre).
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sync import crashpoints
from sync.backoff import Backoff
from sync.client import CentreClient, CentreEndpoint
from sync.clock import timestamp, utc_now
from sync.keyring import KeyFile, create_key_file
from sync.outbox import Outbox
from sync.transaction import (
    Arrest,
    Booking,
    FingerImage,
    Offence,
    Subject,
    Tcn,
    TcnIssuer,
    TransactionHeader,
    encode,
)
from sync.worker import DeliveryPolicy, SyncWorker

REPO_ROOT = Path(__file__).resolve().parents[1]
RANDOM_MOMENT = "random"
POINTS = (*crashpoints.ALL, RANDOM_MOMENT)
DELIVERED = ("accepted", "responded", "acknowledged")


@dataclass
class DrillReport:
    cycles: int = 0
    saved: int = 0  # bookings the child reported saved (the officer saw "saved")
    acknowledged: int = 0  # acknowledgements it reported recorded
    delivered: int = 0  # outbox items the centre holds
    lost: int = 0  # saved or acknowledged but missing afterwards, or never delivered
    duplicated: int = 0  # held by the centre more than once
    unknown_at_centre: int = 0  # TCNs at the centre that the outbox does not have
    integrity_failures: int = 0
    lease_violations: int = 0  # a lease still held after its process was gone, past its expiry
    points_hit: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    lost_tcns: list[str] = field(default_factory=list)  # the first few, to look into

    @property
    def ok(self) -> bool:
        failures = (self.lost, self.duplicated, self.unknown_at_centre, self.integrity_failures)
        return not any(failures) and not self.lease_violations

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "points_hit": dict(sorted(self.points_hit.items())), "ok": self.ok}


class CrashDrill:
    def __init__(
        self,
        work_dir: Path,
        endpoint: CentreEndpoint,
        *,
        centre_counts: Callable[[], dict[str, int]],
        ori: str = "NY0303000",
        station_id: str = "K01",
        seed: int = 0,
        image_bytes: int = 2000,
        cycle_seconds: float = 3.0,
    ) -> None:
        self.database = work_dir / "outbox.db"
        self.key_file = work_dir / "outbox.key"
        self.log = work_dir / "drill-child.log"
        if not self.key_file.exists():
            create_key_file(self.key_file)
        self._endpoint = endpoint
        self._centre_counts = centre_counts
        self._station = (ori, station_id)
        self._random = random.Random(seed)
        self._image_bytes = image_bytes
        self._cycle_seconds = cycle_seconds
        self._saved: set[str] = set()
        self._acknowledged: set[str] = set()
        self._lost: set[str] = set()

    def run(self, cycles: int, drain_timeout: float = 60.0) -> DrillReport:
        """``cycles`` kills (every crash point in turn first, then at random), then the final drain."""
        report = DrillReport()
        started = time.monotonic()
        for number in range(cycles):
            point = POINTS[number] if number < len(POINTS) else self._random.choice(POINTS)
            if self._cycle(point, report):
                report.points_hit[point] += 1
            report.cycles += 1
        self._drain(report, drain_timeout)
        report.seconds = round(time.monotonic() - started, 2)
        return report

    def _cycle(self, point: str, report: DrillReport) -> bool:
        """One start, some work, one SIGKILL; True if the kill came at ``point``."""
        child = _Child(self._command(point), self.log)
        try:
            child.send(f"submit {self._random.randint(1, 3)}")
            child.send("ack")
            limit = self._random.uniform(0.0, 0.6) if point == RANDOM_MOMENT else self._cycle_seconds
            deadline = time.monotonic() + 10.0  # until "ready"; then the cycle's own limit
            while (line := child.line(deadline)) is not None:
                self._note(line)
                if line == "ready":
                    self._check_leases(report)
                    deadline = time.monotonic() + limit
                elif line == f"at {point}":
                    return True
            return point == RANDOM_MOMENT
        finally:
            child.kill()
            for line in child.rest():
                self._note(line)
            self._check_database(report)

    def _drain(self, report: DrillReport, timeout: float) -> None:
        child = _Child(self._command(None), self.log)
        try:
            child.expect("ready", 30)
            self._check_leases(report)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not self._delivered(self._states()):
                time.sleep(0.1)
            child.send("quit")
            child.wait(30)
        finally:
            child.kill()
        self._check_database(report)
        states = self._states()
        counts = self._centre_counts()
        undelivered = {tcn for tcn, state in states.items() if state not in DELIVERED or not counts.get(tcn)}
        report.saved, report.acknowledged = len(self._saved), len(self._acknowledged)
        report.delivered = sum(1 for tcn in states if counts.get(tcn))
        report.lost = len(self._lost | undelivered)
        report.lost_tcns = sorted(self._lost | undelivered)[:10]
        report.duplicated = sum(1 for tcn in states if counts.get(tcn, 0) > 1)
        report.unknown_at_centre = len(counts.keys() - states.keys())

    def _note(self, line: str) -> None:
        kind, _, tcn = line.partition(" ")
        if kind == "saved":
            self._saved.add(tcn)
        elif kind == "acked":
            self._acknowledged.add(tcn)

    def _command(self, point: str | None) -> list[str]:
        endpoint = self._endpoint
        command = [
            sys.executable, "-m", "sync.crash_drill", "child", "--db", str(self.database),
            "--key-file", str(self.key_file), "--url", endpoint.url, "--ca", str(endpoint.ca),
            "--cert", str(endpoint.cert), "--cert-key", str(endpoint.key), "--ori", self._station[0],
            "--station", self._station[1], "--image-bytes", str(self._image_bytes),
        ]  # fmt: skip
        if point and point != RANDOM_MOMENT:
            command += ["--crash-at", point]
        return command

    def _states(self) -> dict[str, str]:
        if not self.database.exists():
            return {}
        with closing(_connect(self.database)) as connection:
            return dict(connection.execute("SELECT tcn, state FROM outbox").fetchall())

    def _delivered(self, states: dict[str, str]) -> bool:
        return self._saved <= states.keys() and all(state in DELIVERED for state in states.values())

    def _check_database(self, report: DrillReport) -> None:
        """After a kill: the file is sound and holds every saved booking and every acknowledgement."""
        if not self.database.exists():
            return
        with closing(_connect(self.database)) as connection:
            if connection.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                report.integrity_failures += 1
        states = self._states()
        self._lost |= self._saved - states.keys()
        self._lost |= {tcn for tcn in self._acknowledged if states.get(tcn) != "acknowledged"}

    def _check_leases(self, report: DrillReport) -> None:
        """Once a new child is ready, no lease of a dead one may be left past its expiry."""
        with closing(_connect(self.database)) as connection:
            report.lease_violations += connection.execute(
                "SELECT count(*) FROM outbox WHERE state = 'sending' AND lease_expires_at <= ?",
                [timestamp(utc_now())],
            ).fetchone()[0]


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30, isolation_level=None)


class _Child:
    """The child process, its stdout read by a thread so that every wait has a deadline."""

    def __init__(self, command: Sequence[str], log: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        }
        with log.open("ab") as errors:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env,
                cwd=REPO_ROOT, text=True, bufsize=1,
            )  # fmt: skip
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def send(self, command: str) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(command + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died; the caller finds out from its output

    def line(self, deadline: float) -> str | None:
        try:
            return self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            return None

    def expect(self, wanted: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (line := self.line(deadline)) is not None:
            if line == wanted:
                return
        raise RuntimeError(f"the drill child did not say {wanted!r} within {timeout} s; see its log")

    def kill(self) -> None:
        if self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
        self._process.wait(30)
        self._reader.join(10)
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                with suppress(OSError):
                    stream.close()

    def wait(self, timeout: float) -> int:
        return self._process.wait(timeout)

    def rest(self) -> list[str]:
        lines = []
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return lines
            if line is not None:
                lines.append(line)


# --- the child -----------------------------------------------------------------------------------


def synthetic_booking(tcn: Tcn, rng: random.Random, image_bytes: int) -> Booking:
    """A valid ten-print booking under ``tcn`` with random image bytes and a made-up name."""
    today = tcn.issued.date()
    surname = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
    return Booking(
        header=TransactionHeader.for_tcn(tcn, destination="NYCENTRE0", local_zone=UTC),
        subject=Subject(
            name=f"{surname},DRILL",
            place_of_birth="NY",
            dates_of_birth=(date(1980, 1, 2),),
            sex="M",
            race="W",
            height_inches=70,
            weight_pounds=180,
            eye_colour="BRO",
            hair_colour="BLK",
        ),
        arrest=Arrest(
            date=today,
            offences=(Offence("THEFT OF PROPERTY"),),
            controlling_agencies=(tcn.ori,),
            retain=True,
            case_number=f"DRILL-{tcn.sequence}",
        ),
        fingers=tuple(
            FingerImage(position, rng.randbytes(image_bytes), 256, 288, 60, today)
            for position in range(1, 11)
        ),
    )


_SAY = threading.Lock()


def _say(line: str) -> None:
    """One whole line on stdout (the worker thread and the main thread both report)."""
    with _SAY:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _pause_at(target: str | None) -> crashpoints.CrashPoint:
    def crash_point(name: str) -> None:
        if name == target:
            _say(f"at {name}")
            time.sleep(60)  # the parent kills the process here; bounded should it not

    return crash_point


def child_main(arguments: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    crash_point = _pause_at(arguments.crash_at)
    outbox = Outbox(arguments.db, KeyFile(arguments.key_file), crash_point=crash_point)
    endpoint = CentreEndpoint(arguments.url, arguments.ca, arguments.cert, arguments.cert_key, 5.0, 10.0)
    policy = DeliveryPolicy(
        backoff=Backoff(0.05, 0.5), poll_interval=timedelta(seconds=0.05), idle_wait=1.0, retention=None
    )
    worker = SyncWorker(outbox, CentreClient(endpoint), policy, crash_point=crash_point)
    issuer = TcnIssuer(arguments.ori, arguments.station, utc_now, outbox.next_sequence)
    rng = random.Random()
    worker.start()
    _say("ready")
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "submit":
            for _ in range(int(argument or 1)):
                booking = synthetic_booking(issuer.issue(), rng, arguments.image_bytes)
                tcn = outbox.submit(encode(booking, now=datetime.now(UTC)), actor="drill")
                _say(f"saved {tcn}")
        elif command == "ack":  # what an officer does once answers are on screen
            deadline = time.monotonic() + 2.0
            while not (answered := outbox.items(("responded",))) and time.monotonic() < deadline:
                time.sleep(0.05)
            for item in answered:
                if outbox.acknowledge(item.tcn, "drill"):
                    _say(f"acked {item.tcn}")
        elif command == "quit":
            break
    worker.stop()
    outbox.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync.crash_drill", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    child = commands.add_parser("child", help="run the queue-and-send path, driven over stdin")
    for name in ("--db", "--key-file", "--ca", "--cert", "--cert-key"):
        child.add_argument(name, type=Path, required=True)
    child.add_argument("--url", required=True)
    child.add_argument("--ori", required=True)
    child.add_argument("--station", required=True)
    child.add_argument("--image-bytes", type=int, default=2000)
    child.add_argument("--crash-at", choices=crashpoints.ALL)
    return child_main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
