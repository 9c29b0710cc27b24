"""The station daemon's memory and idle CPU; JSON lines.

    .venv/bin/python bench/daemon.py [--idle 30] [--booking/--no-booking]

A fresh PKI, a centre (``--matching off``) and a simulator on a pty (real UART timing) as in
``tests/station/daemon_helpers.py``; then ``livescan station run`` in a child process, started
through the installed console script with the systemd unit's ``Environment=`` settings, as systemd
starts it (what a worker process re-imports depends on it). Once it is ready: resident memory
(VmRSS) of the daemon and of every process it started, if any (a processing worker and
multiprocessing's resource tracker in process mode), named, after start and again after one
ten-print booking through the kiosk API; ``total_mb`` is the whole station (goal <= 200 MB),
``daemon_mb`` the daemon process alone. CPU time of all of them over ``--idle`` seconds with nobody
at the kiosk, from ``/proc/<pid>/stat`` (goal < 1 % of one core). Each line carries the load
average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "station"))  # the tests' station surroundings

from daemon_helpers import KioskClient, NotifyListener, station_config, surroundings, write_toml  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
UNIT = REPO / "config" / "systemd" / "livescan-station.service"


def unit_environment() -> dict[str, str]:
    """The ``Environment=`` settings of the systemd unit (e.g. ``MALLOC_ARENA_MAX``)."""
    found = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("Environment="):
            for assignment in line.removeprefix("Environment=").split():
                key, _, value = assignment.partition("=")
                found[key] = value.strip('"')
    return found


def emit(**fields: object) -> None:
    print(json.dumps({**fields, "load": list(os.getloadavg())}), flush=True)


def family(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found = [pid]
    for member in found:
        for task in Path(f"/proc/{member}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak), RssAnon in kB and the thread count, from ``/proc/<pid>/status``."""
    wanted = ("VmRSS", "VmHWM", "RssAnon", "Threads")
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            found[key] = int(value.split()[0])
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICKS


def role(pid: int) -> str:
    """What a process of the station is, from its command line."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    if "resource_tracker" in command:
        return "resource tracker"
    if "multiprocessing" in command:
        return "processing worker"
    return command[:60]


def memory(stage: str, daemon: int) -> None:
    members = {pid: status(pid) for pid in family(daemon)}
    sizes = {pid: round(values["VmRSS"] / 1024, 1) for pid, values in members.items()}
    children = {f"{role(pid)} ({pid})": size for pid, size in sizes.items() if pid != daemon}
    mine = members[daemon]
    emit(bench="daemon_rss", stage=stage, total_mb=round(sum(sizes.values()), 1), daemon_mb=sizes[daemon],
         children_mb=children, daemon_peak_mb=round(mine["VmHWM"] / 1024, 1),
         daemon_anon_mb=round(mine["RssAnon"] / 1024, 1), daemon_threads=mine["Threads"],
         goal_mb=200)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement")
    parser.add_argument("--booking", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lsb-") as scratch, surroundings(Path(scratch)) as where:
        root = Path(scratch)
        config = write_toml(station_config(where, root / "station"), root / "station.toml")
        notify = NotifyListener(root / "notify.sock")
        environment = {**os.environ, **unit_environment(), "NOTIFY_SOCKET": str(notify.path)}
        started = time.perf_counter()
        with (root / "daemon.log").open("wb") as log:
            daemon = subprocess.Popen(
                [str(Path(sys.executable).with_name("livescan")), "station", "run", "--config", str(config)],
                stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=REPO,
            )  # fmt: skip
        try:
            url = notify.wait_for("READY", timeout=120)["STATUS"].removeprefix("kiosk at ")
            emit(bench="daemon_start", ready_s=round(time.perf_counter() - started, 2))
            time.sleep(2.0)  # let start-up settle
            memory("started", daemon.pid)
            members = family(daemon.pid)
            before = cpu_seconds(members)
            time.sleep(args.idle)
            used = cpu_seconds(members) - before
            emit(bench="daemon_idle_cpu", seconds=args.idle, cpu_s=round(used, 3),
                 cpu_percent=round(100 * used / args.idle, 3), goal_percent=1)  # fmt: skip
            if args.booking:
                client = KioskClient(url, where.sim)
                client.sign_in()
                booked = time.perf_counter()
                client.book("S0002")
                emit(bench="daemon_booking", capture_and_submit_s=round(time.perf_counter() - booked, 1))
                memory("after one booking", daemon.pid)
            daemon.send_signal(signal.SIGTERM)
            emit(bench="daemon_stop", exit_status=daemon.wait(60))
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(10)
            notify.close()


if __name__ == "__main__":
    main()
