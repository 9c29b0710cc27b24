"""The sensor worker against the simulated R307: opening, jobs, every fault in every phase, unplug, stop."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from capture_helpers import FAST, WAIT, impressions, make_rig, processor

import hw_sim
from drivers import FAST_TIMING, Sensor
from hw_sim import SimSettings
from station.sensor_worker import JobCancelled, SensorWorker, Session, WorkerStopping

PHASES = ("waiting", "capturing", "uploading")
PASSWORD = 0x1234ABCD

__all__ = ["impressions", "make_rig", "processor"]  # fixtures


def test_the_worker_opens_probes_and_negotiates(make_rig) -> None:
    rig = make_rig()
    status = rig.worker.status()
    assert status["state"] == "ready" and status["model"] == "r307"
    assert status["baudrate"] == 57600 and status["pending_baudrate"] == 115200  # the module's next_boot
    assert status["counters"]["connects"] == 1
    assert {"event": "sensor", "state": "ready", "message": "r307 ready at 57600 baud"} in rig.events
    description = rig.worker.describe().result(WAIT)
    assert description["capacity"] == 1000 and description["packet_size"] == 128


def test_a_module_with_a_password_is_unlocked_with_the_given_one_also_after_a_power_cycle(make_rig) -> None:
    rig = make_rig(
        settings=replace(FAST, auto_advance=False),
        sim_options={"password": PASSWORD},
        worker_options={"password": PASSWORD},
    )
    assert rig.device.status()["params"]["password_verified"]
    rig.start()
    rig.when("capturing", rig.device.power_cycle, fgp=1)  # the module forgets the verification
    rig.workflow.capture(1)
    assert rig.wait_finger(1, "accepted")["nfiq2"] is not None
    assert rig.worker.status()["counters"]["recoveries"] >= 1
    assert rig.device.status()["params"]["password_verified"]


def test_a_wrong_password_is_an_error_that_names_the_setting() -> None:
    name = "station-worker-password"
    events: list[dict] = []
    worker = SensorWorker(
        f"sim://{name}?timing=0&password={PASSWORD:#x}", publish=events.append, timing=FAST_TIMING,
        negotiate=False, backoff=(0.05, 0.1),
    )  # fmt: skip
    try:
        worker.start()
        assert not worker.wait_ready(1.0)
        status = worker.status()
        assert status["state"] == "error" and "wrong password" in status["message"]
        assert "set sensor.password in the station configuration" in status["message"]
        assert [e["state"] for e in events] == ["error"]  # once, not once per retry
        assert worker.alive
    finally:
        worker.stop()
        hw_sim.remove_device(name)
    assert not worker.alive


def test_jobs_run_in_order_on_the_worker_thread(make_rig) -> None:
    rig = make_rig()
    seen: list[tuple[int, str]] = []
    jobs = [
        rig.worker.submit(lambda session, n=n: seen.append((n, threading.current_thread().name)) or n)
        for n in range(5)
    ]
    assert [job.result(WAIT) for job in jobs] == list(range(5))
    assert seen == [(n, "sensor-worker") for n in range(5)]


def test_a_job_cancelled_before_it_runs_never_touches_the_sensor(make_rig) -> None:
    rig = make_rig()
    gate = threading.Event()
    blocker = rig.worker.submit(lambda session: gate.wait(WAIT))
    ran: list[int] = []
    queued = rig.worker.submit(lambda session: ran.append(1))
    queued.cancel()
    gate.set()
    blocker.result(WAIT)
    assert rig.worker.submit(lambda session: 2).result(WAIT) == 2
    assert queued.cancelled() and ran == []


def test_cancel_answers_whether_the_job_was_stopped_before_it_ran(make_rig) -> None:
    """As ``Future.cancel``: True for a queued job (it never runs), False for a running one (it ends
    at its next check) and for a finished one (left as it is)."""
    rig = make_rig()
    started = threading.Event()

    def until_cancelled(session: Session) -> str:
        started.set()
        for _ in range(int(WAIT / 0.02)):
            session.pause(0.02)  # raises JobCancelled once cancelled
        return "never cancelled"

    running = rig.worker.submit(until_cancelled)
    queued = rig.worker.submit(lambda session: "ran")
    assert started.wait(WAIT)
    assert queued.cancel() is True and queued.cancelled()
    assert running.cancel() is False and not running.cancelled()
    with pytest.raises(JobCancelled):
        running.result(WAIT)
    finished = rig.worker.submit(lambda session: "done")
    assert finished.result(WAIT) == "done"
    assert finished.cancel() is False and finished.result() == "done"


def test_the_busy_state_says_what_the_job_does(make_rig) -> None:
    """Reading the module's settings (``livescan diag sensor``) is not reported as a capture."""
    rig = make_rig()
    rig.clear_events()
    assert rig.worker.describe().result(WAIT)["model"]
    busy = rig.wait_sensor("busy")
    assert busy["message"] == "reading the module's settings"
    rig.worker.submit(lambda session: None, activity="test capture for a technician").result(WAIT)
    messages = [e["message"] for e in rig.events if e["event"] == "sensor" and e["state"] == "busy"]
    assert messages == ["reading the module's settings", "test capture for a technician"]
    assert rig.worker.submit(lambda session: None).result(WAIT) is None
    assert "capturing" not in {e["message"] for e in rig.events if e["event"] == "sensor"}


def test_a_publisher_that_raises_does_not_end_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    name = "station-worker-broken-publisher"

    def broken(event: dict) -> None:
        raise RuntimeError("subscriber gone")

    worker = SensorWorker(f"sim://{name}?timing=0", publish=broken, timing=FAST_TIMING, negotiate=False)
    try:
        with worker:
            assert worker.wait_ready(WAIT)
            assert worker.submit(lambda session: "ran").result(WAIT) == "ran"
            assert worker.alive and worker.status()["state"] == "ready"
    finally:
        hw_sim.remove_device(name)
    assert "publishing the sensor state 'ready' failed" in caplog.text


def test_an_unknown_url_scheme_is_an_error_state_that_says_what_to_do() -> None:
    events: list[dict] = []
    worker = SensorWorker("nope://sensor", publish=events.append, timing=FAST_TIMING, backoff=(0.05, 0.1))
    with worker:
        worker.wait_ready(0.5)
    assert events and events[0]["state"] == "error"
    assert "unknown port URL scheme 'nope'" in events[0]["message"] and "sim://NAME" in events[0]["message"]
    assert worker.status()["state"] == "stopped"


def test_a_port_held_by_another_program_is_reported_then_taken_when_free() -> None:
    name = "station-worker-in-use"
    hw_sim.get_or_create_device(name, SimSettings(timing=False))
    events: list[dict] = []
    other = Sensor.open(f"sim://{name}", timing=FAST_TIMING, negotiate=False)
    worker = SensorWorker(f"sim://{name}", publish=events.append, timing=FAST_TIMING, backoff=(0.05, 0.2))
    try:
        worker.start()
        assert not worker.wait_ready(0.5)
        assert worker.status()["state"] == "error" and "in use" in worker.status()["message"]
        other.close()
        assert worker.wait_ready(WAIT)
        assert [e["state"] for e in events] == ["error", "ready"]  # one event per change, not per retry
    finally:
        other.close()
        worker.stop()
        hw_sim.remove_device(name)


# --- every fault of issue 2, in every phase of a capture ------------------------------------------------


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("kind", ["noise", "corrupt", "drop", "no_reply"])
def test_a_line_fault_in_any_phase_ends_with_the_finger_captured(make_rig, kind: str, phase: str) -> None:
    """Three faulty replies in a row: more than the driver's own retry, so the worker recovers."""
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.when(phase, lambda: rig.device.fault(kind, 3), fgp=1)
    rig.start()
    rig.workflow.capture(1)
    finger = rig.wait_finger(1, "accepted")
    assert finger["nfiq2"] is not None
    # usable afterwards, also through whatever faults are left (noise is harmless to the parser)
    rig.worker.submit(lambda session: [session.sensor.read_sys_para() for _ in range(3)]).result(WAIT)
    assert rig.worker.describe().result(WAIT)["model"] == "r307"
    status = rig.device.status()
    assert status["faults"] == {} and status["counters"]["faults_applied"][kind] == 3
    assert rig.worker.status()["state"] == "ready"


def test_a_single_garbled_reply_is_absorbed_by_the_driver(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.when("uploading", lambda: rig.device.fault("corrupt"), fgp=1)
    rig.start()
    rig.workflow.capture(1)
    rig.wait_finger(1, "accepted")
    assert rig.worker.status()["counters"]["recoveries"] == 0
    assert not [e for e in rig.events if e["event"] == "finger" and "problem" in e["finger"]["message"]]


def test_a_finger_fails_after_its_allowed_resets_and_capture_again_recovers(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False, sensor_retries=0))
    rig.when("uploading", lambda: rig.device.fault("corrupt", 2), fgp=1)  # both upload attempts
    rig.start()
    rig.workflow.capture(1)
    failed = rig.wait_finger(1, "failed")
    assert "kept failing on this finger (CorruptTransfer, 1 resets)" in failed["message"]
    assert rig.worker.status()["state"] == "ready"
    rig.workflow.capture(1)
    assert rig.wait_finger(1, "accepted")["nfiq2"] is not None


@pytest.mark.parametrize("phase", PHASES)
def test_a_power_cycle_in_any_phase_finds_the_module_at_its_new_rate(make_rig, phase: str) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.when(phase, rig.device.power_cycle, fgp=1)
    rig.start()
    rig.workflow.capture(1)
    assert rig.wait_finger(1, "accepted")["nfiq2"] is not None
    status = rig.worker.status()
    assert status["baudrate"] == 115200 and status["packet_size"] == 256  # applied at power-up
    assert status["counters"]["recoveries"] >= 1 and status["state"] == "ready"


@pytest.mark.parametrize("phase", PHASES)
def test_unplug_in_any_phase_reports_disconnected_and_resumes_after_replug(make_rig, phase: str) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False))
    rig.when(phase, rig.device.unplug, fgp=1)
    rig.start()
    rig.workflow.capture(1)
    lost = rig.wait_sensor("disconnected")
    assert "disconnected" in lost["message"] and "reconnects by itself" in lost["message"]
    waiting = rig.wait_for(lambda e: e["event"] == "finger" and "disconnected" in e["finger"]["message"])
    assert waiting["finger"]["state"] == "waiting"
    assert rig.worker.submit(lambda session: None).done() is False  # queued until the sensor is back
    rig.device.plug()
    assert rig.wait_finger(1, "accepted")["nfiq2"] is not None
    assert rig.worker.status()["counters"]["disconnects"] == 1


def test_an_idle_worker_notices_an_unplug_and_reconnects(make_rig) -> None:
    rig = make_rig()
    rig.device.unplug()
    rig.wait_sensor("disconnected")
    rig.clear_events()
    rig.device.plug()
    rig.wait_sensor("ready")
    assert rig.worker.status()["counters"]["connects"] == 2
    assert rig.worker.describe().result(WAIT)["model"] == "r307"


# --- stopping -------------------------------------------------------------------------------------------


def test_stop_during_an_upload_finishes_the_packet_and_closes_the_port(make_rig) -> None:
    rig = make_rig(settings=replace(FAST, auto_advance=False), sim_options={"timing": True})
    stopped = threading.Event()

    def stop_once(event: dict) -> None:
        if event["event"] == "progress" and not stopped.is_set():
            stopped.set()
            threading.Thread(target=rig.worker.stop).start()

    rig.listeners.append(stop_once)
    rig.start()
    rig.workflow.capture(1)
    failed = rig.wait_finger(1, "failed", timeout=60)
    assert "shutting down" in failed["message"]
    assert stopped.is_set()
    rig.worker.stop()
    assert not rig.worker.alive
    progress = [e for e in rig.events if e["event"] == "progress"]
    assert progress[-1]["done"] < progress[-1]["total"]  # the upload was cut short
    assert rig.device.status()["open_by"] is None  # the port is closed
    assert rig.worker.status()["state"] == "stopped"
    job = rig.worker.submit(lambda session: 1)
    with pytest.raises(WorkerStopping):
        job.result(WAIT)


def test_stop_fails_queued_jobs_instead_of_running_them(make_rig) -> None:
    rig = make_rig()
    assert rig.worker.alive
    gate = threading.Event()
    running = rig.worker.submit(lambda session: gate.wait(WAIT))
    queued = rig.worker.submit(lambda session: "ran")
    stopper = threading.Thread(target=rig.worker.stop)
    stopper.start()
    gate.set()
    stopper.join(WAIT)
    assert running.result(WAIT) is True
    with pytest.raises(WorkerStopping):
        queued.result(WAIT)
