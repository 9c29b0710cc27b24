"""The kiosk page in Debian's Chromium (Playwright), served by a real station daemon with a real centre.

The system is ``livescan demo``'s (``kiosk_system.demo_system``): the simulated R307 on a pty, the
``livescan central serve`` process with the real matcher and a small synthetic population in both
galleries, and the station daemon whose sync worker delivers over mutual TLS.

One complete booking, driven at 800x480: sign-in on the keypad, the form validated as typed, the
demo panel putting subject S0001 (enrolled in both galleries) at the sensor with a planted duplicate,
ten fingers with one retake and one UP, the sequence check catching the duplicate, submission, the
queue board following the delivery live, both of the centre's answers in their panels (checked
against what the centre itself says and what the synthetic population holds), acknowledgement.
Every screen of it is photographed at both 800x480 and 1024x600. At each size: nothing loaded from
outside, touch targets, the lockout after five wrong PINs, the lock after the idle time.
Screenshots go to ``test-artifacts/kiosk/`` (or ``$LIVESCAN_TEST_ARTIFACTS/kiosk``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))  # kiosk_system
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "station"))  # kiosk_helpers, daemon_helpers

from daemon_helpers import FORM, OFFICER, SUPERVISOR
from kiosk_helpers import states, wait_for
from kiosk_system import DemoSystem, demo_system

from central.gallery_synthetic import planned_level, subject_number
from station.api import COOKIE

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORTS = {"800x480": (800, 480), "1024x600": (1024, 600)}
BOOKING_VIEWPORT = "800x480"  # the tightest screen drives the booking; every step is photographed at both
STEP_MS = 60_000
ANSWER_MS = 180_000  # delivery, the centre's search and the station's next question
SUBJECT = "S0001"  # k % 5 == 1: in both galleries (central.gallery_synthetic)
ARTIFACTS = Path(
    os.environ.get("LIVESCAN_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (install.sh --dev)"),
]


@pytest.fixture(scope="module")
def shots() -> Path:
    directory = ARTIFACTS / "kiosk"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.png"):
        old.unlink()  # a screen this run did not reach must not show an old picture
    print(f"\nkiosk screenshots: {directory}")
    return directory


@pytest.fixture(scope="module")
def system() -> Iterator[DemoSystem]:
    with (
        tempfile.TemporaryDirectory(prefix="lsk-") as work,  # short: unix socket paths
        demo_system(Path(work)) as built,
    ):
        yield built


@pytest.fixture(scope="module")
def url(system: DemoSystem) -> str:
    return system.url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: object) -> Iterator[object]:
    width, height = VIEWPORTS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True)
    opened = context.new_page()
    opened.set_default_timeout(STEP_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(  # the event stream is aborted on purpose when the kiosk locks
        "requestfailed", lambda req: "/api/events" in req.url or errors.append(f"request failed: {req.url}")
    )
    opened.size_name = request.param  # type: ignore[attr-defined]
    yield opened
    context.close()
    assert not errors, errors


def snap(page: object, shots: Path, name: str, *, every_size: bool = False) -> None:
    """A screenshot once the page's images have loaded; ``every_size``: at each viewport in turn."""
    page.wait_for_function("() => [...document.images].every(i => i.hidden || !i.src || i.complete)")
    if not every_size:
        page.screenshot(path=str(shots / f"{page.size_name}-{name}.png"))  # type: ignore[attr-defined]
        return
    for size, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.screenshot(path=str(shots / f"{size}-{name}.png"))
    width, height = VIEWPORTS[page.size_name]  # type: ignore[attr-defined]
    page.set_viewport_size({"width": width, "height": height})


def keypad(page: object, pad: str, digits: str) -> None:
    for digit in digits:
        page.click(f"#{pad} button[data-key='{digit}']")


def sign_in(page: object, operator: str, pin: str) -> None:
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.fill("#signin-operator", operator)
    page.click("#signin-pin")
    keypad(page, "signin-keypad", pin)
    page.click("#signin-keypad button.go")


def finish_fingers(page: object, system: DemoSystem, shots: Path) -> None:
    """Wait for every finger to be accepted or missing; a print below the quality threshold is
    accepted on a supervisor's override through the dialog (the simulator's impressions vary)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = states(system)
        if all(state in ("accepted", "missing") for state in found.values()):
            all_fingers_done(page)
            return
        below = [fgp for fgp, state in found.items() if state == "review"]
        if below:
            page.click(f"#finger-list li[data-fgp='{below[0]}']")
            page.click("#act-override")
            page.wait_for_selector("#dialog-override:not([hidden])")
            page.fill("#override-operator", SUPERVISOR[0])
            page.click("#override-pin")
            keypad(page, "override-keypad", SUPERVISOR[3])
            snap(page, shots, "05-override", every_size=True)
            page.click("#override-keypad button.go")
            page.wait_for_selector("#dialog-override", state="hidden")
            wait_for(lambda fgp=below[0]: states(system)[fgp] != "review", what="the override")
            continue
        time.sleep(0.2)
    raise AssertionError(f"the fingers did not finish: {states(system)}")


def all_fingers_done(page: object) -> None:
    page.wait_for_function(
        "() => { const items = [...document.querySelectorAll('#finger-list li')];"
        " return items.length === 10"
        " && items.every(li => ['accepted', 'missing'].includes(li.dataset.state)); }"
    )


def attempts(system: DemoSystem, fgp: int) -> int:
    return next(f.attempts for f in system.workflow.view().fingers if f.fgp == fgp)


def present(
    page: object, subject: str, asked: int | None = None, shown: int | None = None, shots: Path | None = None
) -> None:
    page.click("#nav-demo")
    page.click(f"#demo-subjects button[data-subject='{subject}']")
    page.select_option("#demo-asked", str(asked) if asked else "")
    page.select_option("#demo-shown", str(shown) if shown else "")
    if shots is not None:
        snap(page, shots, "03-demo-panel", every_size=True)
    page.click("#demo-present")
    page.wait_for_selector("#dialog-demo", state="hidden")
    assert page.inner_text("#nav-demo") == f"Demo: {subject}"


def test_page_loads_nothing_from_outside(page: object, url: str) -> None:
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto(url)
    page.wait_for_selector("#screen-signin:not([hidden])")
    assert requested and all(address.startswith(url) for address in requested), requested


def test_touch_targets_are_big_enough(page: object, url: str) -> None:
    page.goto(url)
    sign_in(page, OFFICER[0], OFFICER[3])
    page.wait_for_selector("#screen-form:not([hidden])")
    small = page.evaluate(
        "() => [...document.querySelectorAll('button, select, input:not([type=checkbox])')]"
        ".filter(el => el.offsetParent !== null)"
        ".map(el => [el.id || el.name || el.textContent, el.getBoundingClientRect().height])"
        ".filter(([, h]) => h < 47.5)"
    )
    assert small == []
    page.click("#nav-lock")
    page.wait_for_selector("#screen-signin:not([hidden])")


def test_another_officers_open_booking_shows_only_whose_it_is_and_can_be_cancelled(
    page: object, url: str, system: DemoSystem, shots: Path
) -> None:
    owner = requests.Session()
    signed = owner.post(f"{url}api/session", json={"operator": OFFICER[0], "pin": OFFICER[3]}, timeout=30)
    assert signed.status_code == 200
    form = {**FORM, "arrest_date": date.today().isoformat()}
    assert owner.post(f"{url}api/booking", json={"form": form}, timeout=30).status_code == 200
    assert owner.delete(f"{url}api/session", timeout=30).status_code == 200  # the booking stays open

    page.goto(url)
    sign_in(page, SUPERVISOR[0], SUPERVISOR[3])
    page.wait_for_selector("#foreign-booking:not([hidden])")
    assert page.is_visible("#screen-form") and page.is_disabled("#form-start")
    assert f"A booking started by officer {OFFICER[0]} is open" in page.inner_text("#foreign-text")
    snap(page, shots, "foreign-booking")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#foreign-cancel")
    page.wait_for_selector("#foreign-booking", state="hidden")
    assert not page.is_disabled("#form-start")
    cancelled = [entry for entry in system.outbox.audit_trail() if entry.event == "booking_cancelled"][-1]
    assert cancelled.actor == SUPERVISOR[0] and f"started by officer {OFFICER[0]}" in (cancelled.detail or "")
    page.click("#nav-lock")
    page.wait_for_selector("#screen-signin:not([hidden])")


def test_lockout_after_five_wrong_pins(page: object, url: str, shots: Path) -> None:
    page.goto(url)
    operator = f"nobody{page.size_name[:4]}"  # type: ignore[attr-defined]  (an unknown id locks out too)
    for attempt in range(1, 5):
        sign_in(page, operator, "0000")
        page.wait_for_function(
            f"() => document.getElementById('signin-message').textContent.includes('{5 - attempt} attempt')"
        )
    snap(page, shots, "signin-wrong-pin")
    sign_in(page, operator, "0000")
    page.wait_for_function("() => document.getElementById('signin-message').textContent.startsWith('Locked')")
    snap(page, shots, "signin-locked")
    assert page.is_visible("#screen-signin")


def test_the_page_locks_itself_after_the_idle_time(
    page: object, url: str, system: DemoSystem, shots: Path
) -> None:
    """The page takes the idle time from ``GET /api/station`` (kiosk.idle_lock_minutes, at least a minute
    in station.toml; shortened here through the API's own operators object)."""
    operators = system.services.operators
    configured = operators.idle
    operators.idle = timedelta(seconds=3)
    try:
        page.goto(url)
        sign_in(page, OFFICER[0], OFFICER[3])
        page.wait_for_selector("#screen-form:not([hidden])")
        token = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
        page.wait_for_selector("#screen-signin:not([hidden])", timeout=30_000)  # no one touches it
    finally:
        operators.idle = configured
    assert page.inner_text("#signin-message") == "Locked after 3 seconds without use. Sign in again."
    snap(page, shots, "idle-locked")
    assert requests.get(url + "api/session", cookies={COOKIE: token}, timeout=10).status_code == 401
    assert page.is_hidden("#nav-queue") and page.inner_text("#who") == ""
    locks = [e for e in system.outbox.audit_trail() if (e.actor, e.event) == (OFFICER[0], "kiosk_locked")]
    assert locks, "the lock was not audited"


@pytest.mark.parametrize("page", [BOOKING_VIEWPORT], indirect=True)
def test_complete_booking_answered_by_the_real_centre(
    page: object, url: str, system: DemoSystem, shots: Path
) -> None:
    page.goto(url)
    page.wait_for_selector("#screen-signin:not([hidden])")
    page.wait_for_selector("#sensor-state[data-state='ready']")  # from GET /api/station, before any event
    snap(page, shots, "01-signin", every_size=True)
    sign_in(page, OFFICER[0], OFFICER[3])
    page.wait_for_selector("#screen-form:not([hidden])")
    assert OFFICER[1] in page.inner_text("#who")
    assert page.inner_text("#sensor-state") == "sensor ready"

    # the form, validated as typed
    page.fill("#f-name", "Beeblebrox, Zaphod")
    page.wait_for_function(
        "() => document.getElementById('name-sent').textContent === 'sent as BEEBLEBROX,ZAPHOD'"
    )
    page.fill("#f-wgt", "900")
    page.wait_for_function(
        "() => document.querySelector('[data-field=weight] .problem').textContent.includes('50-499')"
    )
    page.fill("#f-dob", "1980-01-02")
    for select, value in (
        ("#f-pob", "NY"),
        ("#f-sex", "M"),
        ("#f-race", "W"),
        ("#f-eye", "BRO"),
        ("#f-hair", "BLK"),
    ):
        page.select_option(select, value)
    page.fill("#f-hft", "5")
    page.fill("[name=height_inches]", "10")
    page.fill("#f-asl", "THEFT OF PROPERTY")
    page.wait_for_function("() => document.getElementById('form-summary').textContent === '1 problem to fix'")
    page.locator("#f-wgt").scroll_into_view_if_needed()
    snap(page, shots, "02-form-problem", every_size=True)
    page.fill("#f-wgt", "180")
    page.wait_for_function(
        "() => document.getElementById('form-summary').textContent === 'ready to start capture'"
    )
    snap(page, shots, "03-form-ready", every_size=True)

    # S0001 stands at the sensor; for the left index (7) the right index (2) is shown: a planted duplicate
    present(page, SUBJECT, asked=7, shown=2, shots=shots)
    page.click("#form-start")
    page.wait_for_selector("#screen-capture:not([hidden])")
    page.click("#finger-list li[data-fgp='10']")
    page.click("#act-up")
    page.wait_for_selector("#finger-list li[data-fgp='10'][data-state='missing']")
    page.wait_for_selector("#finger-list li[data-fgp='1'][data-state='accepted']")
    page.click("#finger-list li[data-fgp='1']")
    page.wait_for_selector("#print:not([hidden])")
    snap(page, shots, "04-capture", every_size=True)
    page.click("#finger-list li[data-fgp='1']")  # retake the right thumb
    page.click("#act-retake")
    wait_for(lambda: attempts(system, 1) >= 2, what="the retake of the right thumb")
    finish_fingers(page, system, shots)
    assert states(system)[1] == "accepted"
    snap(page, shots, "06-capture-done", every_size=True)

    page.click("#act-review")
    page.wait_for_selector("#screen-review:not([hidden])")
    snap(page, shots, "07-review", every_size=True)
    page.click("#review-submit")
    page.wait_for_selector("#sequence-warning:not([hidden])")
    warning = page.inner_text("#sequence-warning")
    assert "2 (right index) and 7 (left index)" in warning
    assert system.workflow.view().duplicates == ((2, 7),)
    snap(page, shots, "08-sequence-check", every_size=True)

    present(page, SUBJECT)  # no substitution now: the retake takes the real left index
    before = attempts(system, 7)
    page.click("#finger-list li[data-fgp='7']")
    page.click("#act-retake")
    wait_for(lambda: attempts(system, 7) > before, what="the retake")
    page.wait_for_selector("#sequence-warning", state="hidden")
    finish_fingers(page, system, shots)
    page.click("#act-review")
    page.click("#review-submit")
    page.wait_for_selector("#screen-queue:not([hidden])")
    tcn = system.workflow.view().tcn
    row = f"#queue-list li[data-tcn='{tcn}']"
    page.wait_for_selector(row)
    snap(page, shots, "09-queue", every_size=True)

    # the sync worker delivers it over mutual TLS; the centre searches both galleries; the board follows
    page.wait_for_selector(f"{row}[data-state='responded']", timeout=ANSWER_MS)
    snap(page, shots, "10-queue-answered", every_size=True)
    page.click(row)
    page.wait_for_selector("#screen-response:not([hidden])")
    assert tcn in page.inner_text("#response-tcn")

    truth = system.centre_view(tcn)
    assert truth["status"] == "complete"
    criminal, immigration = truth["criminal"], truth["immigration"]
    assert criminal["hit"] and criminal["candidates"][0]["subject_id"] == SUBJECT
    assert criminal["level"] == planned_level(subject_number(SUBJECT)) is not None
    assert immigration["hit"] and immigration["candidates"][0]["subject_id"] == SUBJECT
    assert immigration["notification"] is not None

    panel = "#answer-criminal"
    assert page.get_attribute(panel, "data-hit") == "true"
    assert "IDENT: criminal record found" in page.inner_text(f"{panel} .verdict")
    assert page.get_attribute(f"{panel} .subject", "data-subject") == SUBJECT
    assert page.get_attribute(f"{panel} .level", "data-level") == str(criminal["level"])
    assert f"Offence level {criminal['level']}" in page.inner_text(f"{panel} .level")
    first = page.inner_text(f"{panel} table.candidates tr:nth-child(2)").split()
    assert first[:2] == ["1", SUBJECT]
    assert page.inner_text(f"{panel} .record dd").strip() == criminal["record_summary"]["name"]
    entries = page.locator(f"{panel} table.entries tr").count() - 1
    assert entries == len(criminal["record_summary"]["entries"]) > 0

    panel = "#answer-immigration"
    assert page.get_attribute(panel, "data-hit") == "true"
    assert "MATCH in the immigration gallery" in page.inner_text(f"{panel} .verdict")
    assert page.get_attribute(f"{panel} .subject", "data-subject") == SUBJECT
    flag = f"{panel} .notification"
    assert page.get_attribute(flag, "data-status") == immigration["notification"]["status"]
    assert "Immigration authority" in page.inner_text(flag)
    snap(page, shots, "11-responses", every_size=True)

    page.click("#response-acknowledge")
    page.wait_for_selector("#response-state[data-state='acknowledged']")
    snap(page, shots, "12-acknowledged", every_size=True)
    entries_seen = [(e.actor, e.event) for e in system.outbox.audit_trail(tcn)]
    assert (OFFICER[0], "viewed results") in entries_seen and (OFFICER[0], "acknowledged") in entries_seen
    page.click("#nav-lock")
    page.wait_for_selector("#screen-signin:not([hidden])")
