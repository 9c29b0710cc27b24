"""The station's HTTPS client for the centre: mutual TLS, timeouts, ``Idempotency-Key: <TCN>``.

``submit`` and ``status`` never raise for the network or the centre's answer; they return what
happened, already sorted into what the sync worker does about it:

========================================  =============================  ======================
answer                                     outcome                        the item becomes
========================================  =============================  ======================
202, or 200 replay of the same bytes       ``Accepted`` (receipt)         accepted
400 / 413 / 422 with problems              ``Rejected`` (the messages)    rejected
other 4xx (401, 403, 404, 409, ...)        ``Refused`` (permanent)        dead
408, 425, 429, 5xx, connection errors,     ``Transient`` (retry after     queued again, or dead
timeouts, TLS failures                     backoff, honouring Retry-After) after N tries / an age
========================================  =============================  ======================

``Transient.link`` says whether the failure is the link's or the centre's load (every send would
fail alike: the worker pauses the whole queue) or possibly this item's own (an HTTP 500: only
the item waits). Error texts name the failure, never the booking's content.

``submit`` and ``status`` also send the outbox's audit head when given one, and
``report_audit_head`` sends it alone (``AUDIT_HEAD_HEADER: <entry id>:<hash>``, no personal data):
the centre keeps it as the anchor off the station that shows entries cut off the end of the audit
log (``sync.outbox.audit``). No head, no header.

``REQUESTS_CA_BUNDLE`` and the other environment settings are ignored (``trust_env = False``):
the site CA is the only trust anchor, and it is passed on every request.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sync.backoff import retry_after_seconds
from sync.clock import Clock, utc_now
from sync.outbox.audit import AUDIT_HEAD_HEADER, AuditHead

RETRYABLE_STATUS = frozenset({408, 425, 429})
LINK_STATUS = frozenset({429, 502, 503, 504})  # the link or the centre's load, not the item
REJECTING_STATUS = frozenset({400, 413, 422})
CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class Accepted:
    receipt: dict[str, Any]
    replayed: bool  # the centre had it already (a retry after a lost answer)


@dataclass(frozen=True)
class Rejected:
    status: int
    problems: list[dict[str, str]]
    reason: str  # a summary without personal data: status, count, field numbers


@dataclass(frozen=True)
class Refused:
    error: str


@dataclass(frozen=True)
class Transient:
    error: str
    retry_after: float | None = None
    link: bool = True


@dataclass(frozen=True)
class Pending:
    pass


@dataclass(frozen=True)
class Answered:
    results: dict[str, Any]  # "criminal", "immigration"


@dataclass(frozen=True)
class Unknown:
    """The centre does not know the TCN (any more)."""


SendOutcome = Accepted | Rejected | Refused | Transient
PollOutcome = Pending | Answered | Rejected | Unknown | Refused | Transient


@dataclass(frozen=True)
class CentreEndpoint:
    url: str  # https://host:port
    ca: Path  # the site CA (``ca.pem`` of ``livescan pki init``)
    cert: Path  # this station's certificate
    key: Path  # and its private key
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


class CentreClient:
    def __init__(self, endpoint: CentreEndpoint, *, clock: Clock = utc_now) -> None:
        self.endpoint = endpoint
        self._clock = clock
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.cert = (str(endpoint.cert), str(endpoint.key))
        self._timeout = (endpoint.connect_timeout, endpoint.read_timeout)

    def close(self) -> None:
        self._session.close()

    def submit(self, tcn: str, data: bytes, *, audit_head: AuditHead | None = None) -> SendOutcome:
        """Deliver one transaction (with the outbox's audit head, if there is one)."""
        headers = {"Idempotency-Key": tcn, "Content-Type": CONTENT_TYPE} | _head_header(audit_head)
        try:
            response = self._request("POST", "/v1/transactions", data=data, headers=headers)
        except requests.RequestException as exc:
            return Transient(describe_exception(exc))
        return classify_submit(response, tcn, hashlib.sha256(data).hexdigest(), self._clock)

    def status(self, tcn: str, *, audit_head: AuditHead | None = None) -> PollOutcome:
        """Ask for the answer to ``tcn`` (with the outbox's audit head, if there is one)."""
        try:
            response = self._request("GET", f"/v1/transactions/{tcn}", headers=_head_header(audit_head))
        except requests.RequestException as exc:
            return Transient(describe_exception(exc))
        return classify_status(response, tcn, self._clock)

    def report_audit_head(self, audit_head: AuditHead) -> Refused | Transient | None:
        """Send the audit head alone (``PUT /v1/audit-head``); None when the centre has it."""
        try:
            response = self._request("PUT", "/v1/audit-head", headers=_head_header(audit_head))
        except requests.RequestException as exc:
            return Transient(describe_exception(exc))
        return None if response.status_code == 204 else _failure(response, self._clock)

    def _request(self, method: str, path: str, **options: Any) -> requests.Response:
        return self._session.request(
            method, self.endpoint.url.rstrip("/") + path, timeout=self._timeout,
            verify=str(self.endpoint.ca), allow_redirects=False, **options,
        )  # fmt: skip


def _head_header(head: AuditHead | None) -> dict[str, str]:
    return {} if head is None else {AUDIT_HEAD_HEADER: str(head)}


def classify_submit(
    response: requests.Response, tcn: str, sha256: str, clock: Clock = utc_now
) -> SendOutcome:
    status = response.status_code
    if status in (200, 202):
        receipt = _json(response)
        if receipt.get("tcn") != tcn or receipt.get("sha256") != sha256:
            return Refused(f"HTTP {status} with a receipt for other bytes or another TCN")
        return Accepted(receipt, response.headers.get("Idempotent-Replayed") == "true")
    if status in REJECTING_STATUS:
        return _rejected(response)
    return _failure(response, clock)


def classify_status(response: requests.Response, tcn: str, clock: Clock = utc_now) -> PollOutcome:
    status = response.status_code
    if status == 404:
        return Unknown()
    if status != 200:
        return _failure(response, clock)
    view = _json(response)
    if view.get("tcn") != tcn:
        return Refused("HTTP 200 describing another TCN")
    if view.get("status") == "complete":
        return Answered({kind: view[kind] for kind in ("criminal", "immigration") if kind in view})
    if view.get("status") == "rejected":
        return Rejected(200, view.get("problems") or [], _summary("rejected after intake", view))
    return Pending()


def _rejected(response: requests.Response) -> Rejected:
    body = _json(response)
    return Rejected(
        response.status_code, body.get("problems") or [], _summary(f"HTTP {response.status_code}", body)
    )


def _failure(response: requests.Response, clock: Clock) -> Refused | Transient:
    status = response.status_code
    error = f"HTTP {status}"
    if status in RETRYABLE_STATUS or status >= 500:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), clock())
        if retry_after is not None:
            error += f" (retry after {retry_after:g} s)"
        return Transient(error, retry_after, link=status in LINK_STATUS)
    code = _json(response).get("error")
    return Refused(f"{error} {code}" if isinstance(code, str) else error)


def _summary(prefix: str, body: dict[str, Any]) -> str:
    """``HTTP 422: 2 problem(s) in 2.018, 2.022``: the field numbers only (messages may quote values)."""
    problems = body.get("problems") or []
    fields = sorted({str(problem.get("field", "?")) for problem in problems if isinstance(problem, dict)})
    code = body.get("error")
    label = f"{prefix} {code}" if isinstance(code, str) else prefix
    return f"{label}: {len(problems)} problem(s)" + (f" in {', '.join(fields)}" if fields else "")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_KINDS = (
    (requests.exceptions.ConnectTimeout, "timed out connecting"),
    (requests.exceptions.ReadTimeout, "timed out waiting for the answer"),
    (requests.exceptions.SSLError, "TLS failed"),
    (requests.exceptions.ConnectionError, "connection failed"),
)


def describe_exception(exc: requests.RequestException) -> str:
    """``ConnectionError: connection failed (Connection refused)``: the kind and the OS's reason."""
    kind = next((text for cls, text in _KINDS if isinstance(exc, cls)), "request failed")
    reason = _ERRNO.search(str(exc))
    return f"{type(exc).__name__}: {kind}" + (f" ({reason.group(1).strip()})" if reason else "")
