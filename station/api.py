"""The station's local HTTP API and the kiosk page (FastAPI), served on 127.0.0.1 by the daemon.

``create_app(StationServices(...))`` builds the app. The kiosk page (``station/kiosk/``) is served
at ``/``; the API under ``/api``:

* ``POST /api/session {operator, pin}`` signs in (200; 401 with ``attempts_left``; 423 with
  ``locked_until``) and sets the session cookie (HttpOnly, SameSite=Strict); ``GET`` shows it,
  ``DELETE`` signs out, ``POST /api/session/lock`` locks the kiosk (the server also ends a session
  idle for 30 minutes). Every other call but ``GET /api/station`` (the station's name, idle time,
  quality threshold and the sensor's state) needs a session.
* ``GET /api/codes``; ``POST /api/booking/validate {form}`` -> ``{problems, name_sent}``;
  ``POST /api/booking {form}`` opens a booking; ``GET /api/booking``; ``POST
  /api/booking/fingers/{fgp}/(capture|accept|mark|override)``; ``GET
  /api/booking/fingers/{fgp}.png``; ``POST /api/booking/submit`` -> ``{tcn}`` or 409 with
  ``duplicates`` or ``missing``; ``POST /api/booking/cancel``.
* A booking belongs to the officer who opened it; it stays open across sign-out and the idle lock
  and resumes when they sign in again. Another officer's session sees only ``{id, operator, state,
  owned: false, message}`` of it (in ``GET /api/booking`` and on the event stream: no finger
  events, no prints), gets 403 ``not_your_booking`` for every action, and may cancel it.
* ``GET /api/queue``; ``GET /api/queue/{tcn}`` (both answers; an audited read);
  ``POST /api/queue/{tcn}/acknowledge``.
* ``GET /api/events``: server-sent events: a snapshot (``booking``, ``queue``, ``sensor``), then every event
  published on the hub, and ``queue`` whenever the outbox changes. Ends when the hub closes.
* Demo only (a presenter is configured): ``GET /api/demo/subjects``, ``POST /api/demo/present``.
* ``/api/diag/...`` for ``livescan diag`` (``station.diag.api``): a token in ``<data_dir>/diag.token``
  instead of a session.

Errors are JSON ``{error, message, ...}`` with a specific code. Request bodies, form values, names
and images are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.middleware.trustedhost import TrustedHostMiddleware

from station.diag.api import router as diag_router
from station.events import EventHub, SubscriptionClosed
from station.form import FIELD_INPUTS, FormInvalid, check_form, code_tables, parse_form
from station.operators import (
    LockedOut,
    NotSupervisor,
    Operator,
    Operators,
    Session,
    SessionExpired,
    SignInFailed,
)
from station.workflow import (
    CAPTURING,
    READY,
    AuditUnavailable,
    BookingInProgress,
    IncompleteBooking,
    NoOpenBooking,
    NotBookingOwner,
    QueueUnavailable,
    SequenceCheckFailed,
    WorkflowError,
)
from sync.clock import Clock, utc_now
from sync.outbox import MEANING, Outbox, OutboxError
from sync.transaction import Problem, TransactionInvalid
from sync.transaction.codes import DEFAULT_VERSION, MissingReason

log = logging.getLogger(__name__)

KIOSK = Path(__file__).with_name("kiosk")
COOKIE = "livescan_session"
KEEPALIVE_SECONDS = 15.0
QUEUE_LIMIT = 200
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class DemoPresenter(Protocol):
    def subjects(self) -> list[dict[str, Any]]: ...
    def present(
        self, subject: str, substitute: dict[int, int] | None = None, smudge: bool = False
    ) -> None: ...


@dataclass(frozen=True)
class KioskSettings:
    """What the page and the form need from the station's configuration."""

    ori: str  # the station's ORI: the default controlling agency (2.073 CRI)
    version: str = DEFAULT_VERSION  # 1.002 VER: name length rules depend on it
    station_name: str = ""
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")  # refuses DNS rebinding
    queue_refresh_s: float = 1.0  # how often the outbox is looked at for the queue board


@dataclass
class StationServices:
    """Everything the API calls. ``workflow`` is a ``station.workflow.BookingWorkflow``."""

    workflow: Any
    outbox: Outbox
    operators: Operators
    events: EventHub
    settings: KioskSettings
    demo: DemoPresenter | None = None
    clock: Clock = field(default=utc_now)
    data_dir: Path | None = None  # storage.data_dir: the diag token goes there (station.diag.api)


class ApiError(Exception):
    """An answer other than 2xx: status, a short code, a message the kiosk shows, extra fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> JSONResponse:
        body = {"error": self.code, "message": self.message, **self.extra}
        return JSONResponse(body, status_code=self.status, headers={"Cache-Control": "no-store"})


# --- request bodies ----------------------------------------------------------------------------


class SignIn(BaseModel):
    operator: str = Field(max_length=64)
    pin: str = Field(max_length=32)


class FormBody(BaseModel):
    form: dict[str, Any]


class MarkBody(BaseModel):
    reason: str


class OverrideBody(BaseModel):
    supervisor: str = Field(max_length=64)
    pin: str = Field(max_length=32)


class PresentBody(BaseModel):
    subject: str = Field(max_length=64)
    substitute: dict[str, int] | None = None
    smudge: bool = False


# --- workflow errors -----------------------------------------------------------------------------


def _workflow_error(exc: Exception) -> ApiError | None:
    """The API's answer to an error of the booking workflow, by its class (None: not one of them)."""
    message = str(exc)
    if isinstance(exc, SequenceCheckFailed):
        return ApiError(409, "sequence_check", message, duplicates=[list(pair) for pair in exc.duplicates])
    if isinstance(exc, IncompleteBooking):
        return ApiError(409, "incomplete", message, missing=list(exc.positions))
    if isinstance(exc, BookingInProgress):
        return ApiError(409, "booking_in_progress", message)
    if isinstance(exc, NoOpenBooking):
        return ApiError(404, "no_booking", message)
    if isinstance(exc, NotBookingOwner):
        return ApiError(403, "not_your_booking", message)
    if isinstance(exc, AuditUnavailable):
        return ApiError(503, "audit_unavailable", message)
    if isinstance(exc, QueueUnavailable):
        return ApiError(503, "queue_unavailable", message)
    if isinstance(exc, WorkflowError):
        return ApiError(409, _snake(type(exc).__name__), message)
    return None


class _Guarded:
    """The workflow with its errors turned into ``ApiError`` answers."""

    def __init__(self, workflow: Any) -> None:
        self._workflow = workflow

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._workflow, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                mapped = _workflow_error(exc)
                if mapped is None:
                    raise
                raise mapped from None

        return call


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _fgp(fgp: int) -> int:
    if not 1 <= fgp <= 10:
        raise ApiError(400, "bad_finger", f"finger position {fgp} is not 1 (right thumb) to 10 (left little)")
    return fgp


@contextmanager
def _sign_in_errors(failed: str) -> Iterator[None]:
    """A wrong id or PIN (401 ``failed``), a lockout (423) or an officer for a supervisor (403)."""
    try:
        yield
    except SignInFailed as exc:
        raise ApiError(401, failed, str(exc), attempts_left=exc.attempts_left) from None
    except LockedOut as exc:
        raise ApiError(423, "locked_out", str(exc), locked_until=exc.until.isoformat()) from None
    except NotSupervisor as exc:
        raise ApiError(403, "not_supervisor", str(exc)) from None


def signed_session(request: Request) -> Session:
    """The caller's live session (its idle time restarts), else ``SessionExpired`` (401)."""
    services: StationServices = request.app.state.services
    return services.operators.session(request.cookies.get(COOKIE))


Signed = Annotated[Session, Depends(signed_session)]


# --- the outbox watcher --------------------------------------------------------------------------


class QueueWatcher:
    """Publishes ``{"event": "queue", "items": [...]}`` whenever the outbox's items change.

    The sync worker writes the outbox from its own thread without telling anyone, so the board is
    kept live by looking at the items every ``interval`` seconds on the server (one small query).
    """

    def __init__(self, outbox: Outbox, publish: Callable[[dict[str, Any]], None], interval: float) -> None:
        self._outbox = outbox
        self._publish = publish
        self._interval = interval
        self._stop = threading.Event()
        self._last: Any = None
        self._thread = threading.Thread(target=self._run, name="queue-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def check(self) -> None:
        """Publish the items if they changed since the last look."""
        items = queue_items(self._outbox)
        if items != self._last:
            self._last = items
            self._publish({"event": "queue", "items": items})

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:
                log.exception("the queue watcher could not read the outbox; trying again")


def queue_items(outbox: Outbox) -> list[dict[str, Any]]:
    """The queue board's rows, newest first (no personal data: TCNs, states, times, operator ids)."""
    rows = []
    for item in reversed(outbox.items(limit=QUEUE_LIMIT)):
        rows.append(
            {
                "tcn": item.tcn,
                "state": item.state,
                "meaning": MEANING.get(item.state, ""),
                "attempts": item.attempts,
                "created_at": item.created_at,
                "submitted_by": item.submitted_by,
                "answered": list(item.answered),
                "acknowledged_at": item.acknowledged_at,
                "acknowledged_by": item.acknowledged_by,
                "last_error": item.last_error,
            }
        )
    return rows


# --- the app ---------------------------------------------------------------------------------------


def create_app(services: StationServices) -> FastAPI:
    """The API and the kiosk page over ``services``."""
    watcher = QueueWatcher(services.outbox, services.events.publish, services.settings.queue_refresh_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()
            services.events.close()

    app = FastAPI(
        title="Livescan station", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(services.settings.allowed_hosts))
    app.state.services = services
    app.state.queue_watcher = watcher
    app.include_router(diag_router)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if not _same_origin(request):
            response = ApiError(403, "cross_origin", "the station answers its own page only").response()
        else:
            try:
                response = await call_next(request)
            except Exception as exc:  # its message may quote what an officer typed: never logged
                log.error("%s %s failed: %s (message withheld)", request.method, request.url.path,
                          type(exc).__name__)  # fmt: skip
                response = ApiError(500, "internal", "the station could not do that; see its log").response()
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(part) for part in error["loc"][1:]) or "body", "message": error["msg"]}
            for error in exc.errors()
        ]
        message = "the request is not what this endpoint takes: " + "; ".join(
            f"{p['field']}: {p['message']}" for p in problems[:5]
        )
        return ApiError(400, "bad_request", message, problems=problems).response()

    @app.exception_handler(SessionExpired)
    async def expired(_: Request, exc: SessionExpired) -> JSONResponse:
        response = ApiError(401, "session_expired", str(exc)).response()
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.exception_handler(OutboxError)
    async def outbox_error(_: Request, exc: OutboxError) -> JSONResponse:
        status, code = (404, "not_found") if str(exc).startswith("no booking") else (409, "outbox_refused")
        return ApiError(status, code, str(exc)).response()

    workflow = _Guarded(services.workflow)

    def audit(actor: str, event: str, detail: str | None = None) -> None:
        services.outbox.audit(actor, event, detail=detail)

    # --- sessions ----------------------------------------------------------------------------

    @app.get("/api/station")
    def station() -> dict[str, Any]:
        return {
            "ori": services.settings.ori,
            "station_name": services.settings.station_name,
            "demo": services.demo is not None,
            "idle_lock_seconds": int(services.operators.idle.total_seconds()),
            "max_failures": services.operators.max_failures,
            "quality_threshold": getattr(
                getattr(services.workflow, "settings", None), "quality_threshold", None
            ),
            "sensor": sensor_snapshot(services.workflow),
        }

    @app.post("/api/session")
    def sign_in(body: SignIn) -> JSONResponse:
        with _sign_in_errors("sign_in_failed"):
            started = services.operators.sign_in(body.operator, body.pin)
        response = JSONResponse(started.operator.as_dict())
        response.set_cookie(COOKIE, started.token, httponly=True, samesite="strict", path="/")
        return response

    @app.get("/api/session")
    def who(signed: Signed) -> dict[str, Any]:
        return signed.operator.as_dict()

    @app.delete("/api/session")
    def sign_out(request: Request) -> JSONResponse:
        _leave(services.operators.sign_out(request.cookies.get(COOKIE)))
        response = JSONResponse({"signed_out": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    def _leave(operator: Operator | None) -> None:
        if operator is not None:
            services.workflow.park(operator.id)

    @app.post("/api/session/lock")
    def lock(request: Request) -> JSONResponse:
        _leave(services.operators.sign_out(request.cookies.get(COOKIE), reason="kiosk_locked"))
        response = JSONResponse({"locked": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- the booking -------------------------------------------------------------------------

    @app.get("/api/codes")
    def codes(_: Signed) -> dict[str, Any]:
        return code_tables()

    @app.post("/api/booking/validate")
    def validate_form(body: FormBody, _: Signed) -> dict[str, Any]:
        try:
            result = check_form(
                body.form,
                now=services.clock(),
                agency=services.settings.ori,
                version=services.settings.version,
            )
        except FormInvalid as exc:
            return {"problems": [p.as_dict() for p in exc.problems], "name_sent": ""}
        return result.as_dict()

    @app.post("/api/booking")
    def open_booking(body: FormBody, signed: Signed) -> dict[str, Any]:
        try:
            subject, arrest = parse_form(
                body.form,
                now=services.clock(),
                agency=services.settings.ori,
                version=services.settings.version,
            )
        except FormInvalid as exc:
            raise ApiError(
                422, "form_invalid", "the form has problems; see each field",
                problems=[p.as_dict() for p in exc.problems],
            ) from None  # fmt: skip
        try:
            view = workflow.start(signed.operator.id, subject, arrest)
        except TransactionInvalid as exc:
            problems = [Problem(FIELD_INPUTS.get(p.field, "form"), p.message).as_dict() for p in exc.problems]
            raise ApiError(
                422, "form_invalid", "the form has problems; see each field", problems=problems
            ) from None
        return booking_for(view.as_dict(), signed.operator.id) or {}

    @app.get("/api/booking")
    def booking(signed: Signed) -> dict[str, Any]:
        view = workflow.view()
        if view is None:
            raise ApiError(404, "no_booking", "no booking is open; fill in the form to start one")
        return booking_for(view.as_dict(), signed.operator.id) or {}

    def _open(signed: Session | None = None) -> None:
        """404 without a booking; with ``signed``, 403 unless the booking is theirs."""
        view = workflow.view()
        if view is None:
            raise ApiError(404, "no_booking", "no booking is open; fill in the form to start one")
        if signed is not None:
            workflow.check_owner(signed.operator.id)

    def _view(signed: Session) -> dict[str, Any]:
        view = workflow.view()
        return (booking_for(view.as_dict(), signed.operator.id) if view is not None else None) or {}

    @app.post("/api/booking/fingers/{fgp}/capture")
    def capture(fgp: int, signed: Signed) -> dict[str, Any]:
        _open(signed)
        workflow.capture(_fgp(fgp), operator=signed.operator.id)
        return _view(signed)

    @app.post("/api/booking/fingers/{fgp}/accept")
    def accept(fgp: int, signed: Signed) -> dict[str, Any]:
        _open(signed)
        workflow.accept(_fgp(fgp), operator=signed.operator.id)
        return _view(signed)

    @app.post("/api/booking/fingers/{fgp}/mark")
    def mark(fgp: int, body: MarkBody, signed: Signed) -> dict[str, Any]:
        reasons = {reason.value for reason in MissingReason}
        if body.reason not in reasons:
            raise ApiError(
                400,
                "bad_reason",
                f"reason {body.reason[:10]!r} must be XX (amputated) or UP (unable to print)",
            )
        _open(signed)
        workflow.mark(_fgp(fgp), body.reason, operator=signed.operator.id)
        return _view(signed)

    @app.post("/api/booking/fingers/{fgp}/override")
    def override(fgp: int, body: OverrideBody, signed: Signed) -> dict[str, Any]:
        _open(signed)  # before the supervisor's PIN is checked (and counted) for nothing
        _fgp(fgp)
        with _sign_in_errors("override_refused"):
            supervisor = services.operators.verify_supervisor(body.supervisor, body.pin)
        workflow.override(fgp, supervisor.id, operator=signed.operator.id)
        return _view(signed)

    @app.get("/api/booking/fingers/{fgp}.png")
    def finger_png(fgp: int, signed: Signed) -> Response:
        _open(signed)
        return Response(workflow.image_png(_fgp(fgp), operator=signed.operator.id), media_type="image/png")

    @app.post("/api/booking/submit")
    def submit(signed: Signed) -> dict[str, Any]:
        _open(signed)
        tcn = workflow.submit(signed.operator.id)
        app.state.queue_watcher.check()
        return {"tcn": tcn}

    @app.post("/api/booking/cancel")
    def cancel(signed: Signed) -> dict[str, Any]:
        _open()
        workflow.cancel(signed.operator.id)
        return {"cancelled": True}

    # --- the queue ----------------------------------------------------------------------------

    @app.get("/api/queue")
    def queue(_: Signed) -> dict[str, Any]:
        return {"items": queue_items(services.outbox)}

    @app.get("/api/queue/{tcn}")
    def responses(tcn: str, signed: Signed) -> dict[str, Any]:
        item = services.outbox.item(tcn)
        if item is None:
            raise ApiError(404, "not_found", f"no booking {tcn[:40]} in the queue")
        actor = signed.operator.id
        answer: dict[str, Any] = {"tcn": tcn, "state": item.state, "meaning": MEANING.get(item.state, "")}
        answer["results"] = services.outbox.results(tcn, actor) if item.answered else {}
        if item.state == "rejected":
            answer["problems"] = services.outbox.problems(tcn, actor)
        answer["acknowledged_by"] = item.acknowledged_by
        return answer

    @app.post("/api/queue/{tcn}/acknowledge")
    def acknowledge(tcn: str, signed: Signed) -> dict[str, Any]:
        services.outbox.acknowledge(tcn, signed.operator.id)
        app.state.queue_watcher.check()
        return {"tcn": tcn, "acknowledged": True}

    # --- live events --------------------------------------------------------------------------

    @app.get("/api/events")
    async def events(request: Request, signed: Signed) -> StreamingResponse:
        subscription = services.events.subscribe()
        token, operator = signed.token, signed.operator.id

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                view = await asyncio.to_thread(workflow.view)  # it waits for the workflow's lock
                shown = booking_for(view.as_dict() if view else None, operator)
                yield _sse({"event": "booking", "booking": shown})
                items = await asyncio.to_thread(queue_items, services.outbox)
                yield _sse({"event": "queue", "items": items})
                if (sensor := sensor_snapshot(services.workflow)) is not None:
                    yield _sse(sensor)
                while True:
                    try:
                        event = await subscription.next(KEEPALIVE_SECONDS)
                    except SubscriptionClosed:
                        return
                    if not services.operators.active(token):  # signed out, locked or idle
                        yield _sse({"event": "session", "state": "expired"})
                        return
                    if event is None:
                        yield ": keepalive\n\n"
                    elif (shown := event_for(event, operator)) is not None:
                        yield _sse(shown)
            finally:
                subscription.close()

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # --- demo --------------------------------------------------------------------------------

    def _demo() -> DemoPresenter:
        if services.demo is None:
            raise ApiError(404, "not_demo", "this station is not in demo mode")
        return services.demo

    @app.get("/api/demo/subjects")
    def demo_subjects(_: Signed) -> dict[str, Any]:
        return {"subjects": _demo().subjects()}

    @app.post("/api/demo/present")
    def demo_present(body: PresentBody, signed: Signed) -> dict[str, Any]:
        presenter = _demo()
        substitute: dict[int, int] = {}
        for asked, shown in (body.substitute or {}).items():
            if not (asked.isdigit() and 1 <= int(asked) <= 10 and 1 <= shown <= 10):
                raise ApiError(
                    400, "bad_substitute", "substitute maps finger positions 1-10 to positions 1-10"
                )
            substitute[int(asked)] = shown
        known = {str(entry.get("id")) for entry in presenter.subjects()}
        if body.subject not in known:
            raise ApiError(
                404, "unknown_subject", f"no demo subject {body.subject[:20]!r}; pick one from the list"
            )
        presenter.present(body.subject, substitute or None, smudge=body.smudge)
        audit(
            signed.operator.id, "demo_subject_presented", f"{body.subject}, {len(substitute)} substitution(s)"
        )
        return {"subject": body.subject, "substitute": {str(k): v for k, v in substitute.items()}}

    if KIOSK.is_dir():
        app.mount("/", StaticFiles(directory=KIOSK, html=True), name="kiosk")
    return app


def booking_for(booking: dict[str, Any] | None, operator: str) -> dict[str, Any] | None:
    """A booking view (``BookingView.as_dict``) as ``operator``'s session may see it: all of it for the
    officer who started it; for anyone else only whose it is and its state (no fingers, no scores)."""
    if booking is None:
        return None
    owner = booking.get("operator")
    if owner == operator:
        return {**booking, "owned": True}
    state = booking.get("state")
    message = (
        f"A booking started by officer {owner} is open: only they can continue it; you can cancel it."
        if state in (CAPTURING, READY)
        else ""
    )
    return {"id": booking.get("id"), "operator": owner, "state": state, "owned": False, "message": message}


def event_for(event: dict[str, Any], operator: str) -> dict[str, Any] | None:
    """A hub event as ``operator``'s event stream may show it (None: not at all). Finger and progress
    events of another officer's booking are left out, its booking events cut down by ``booking_for``."""
    kind = event.get("event")
    if kind == "booking":
        return {**event, "booking": booking_for(event.get("booking"), operator)}
    if kind in ("finger", "progress") and event.get("operator") != operator:
        return None
    return event


def sensor_snapshot(workflow: Any) -> dict[str, Any] | None:
    """The sensor worker's state now, as a ``sensor`` event (the page's sensor light is right from the
    first moment, not only after the next change); None when the workflow has no sensor worker."""
    status = getattr(getattr(workflow, "sensor", None), "status", None)
    if status is None:
        return None
    now = status()
    return {"event": "sensor", "state": str(now.get("state", "")), "message": str(now.get("message", ""))}


def _same_origin(request: Request) -> bool:
    """A browser's state-changing call comes from this station's own page (or is not a browser's).

    SameSite=Strict does not stop another page on 127.0.0.1 (another port is the same site), so a
    call that changes state and names an ``Origin`` must name this one.
    """
    origin = request.headers.get("origin")
    if origin is None or request.method in ("GET", "HEAD", "OPTIONS"):
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n"
