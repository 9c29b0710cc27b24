"""Delivery to the centre: backoff, how every answer is sorted, and the client against the real centre."""

from __future__ import annotations

import json
import random
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from outbox_helpers import (
    STATION_A,
    STATION_B,
    booking_transaction,
    centre,
    endpoint,
    invalid_transaction,
    other_bytes,
    pki,
)

from central.pki import PkiLayout, init_pki
from central.process import CentralProcess
from sync.backoff import Backoff, retry_after_seconds
from sync.client import (
    Accepted,
    Answered,
    CentreClient,
    Pending,
    Refused,
    Rejected,
    Transient,
    Unknown,
    classify_status,
    classify_submit,
    describe_exception,
)

__all__ = ["centre", "pki"]  # fixtures
NOW = datetime(2024, 3, 15, 14, 30, tzinfo=UTC)
SHA = "ab" * 32


def response(status: int, body: object = None, **headers: str) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = b"" if body is None else json.dumps(body).encode()
    made.headers.update({key.replace("_", "-"): value for key, value in headers.items()})
    return made


def submitted(status: int, body: object = None, **headers: str):
    return classify_submit(response(status, body, **headers), "TCN1", SHA, lambda: NOW)


# --- backoff -----------------------------------------------------------------------------------


def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling() -> None:
    backoff = Backoff(base=2.0, cap=60.0, random=random.Random(3))
    assert [backoff.ceiling(attempt) for attempt in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    delays = [backoff.delay(4) for _ in range(2000)]
    assert 0.0 <= min(delays) < 0.5 and 15.0 < max(delays) <= 16.0


@given(st.integers(0, 10_000), st.one_of(st.none(), st.floats(0, 1e9)), st.integers(0, 2**32))
def test_a_wait_is_never_past_the_cap_nor_sooner_than_retry_after(
    attempt: int, retry_after: float | None, seed: int
) -> None:
    backoff = Backoff(base=2.0, cap=900.0, random=random.Random(seed))
    wait = backoff.wait(attempt, retry_after)
    assert min(retry_after or 0.0, 900.0) <= wait <= 900.0


def test_retry_after_is_read_in_seconds_or_as_an_http_date() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(format_datetime(NOW + timedelta(seconds=30), usegmt=True), NOW) == 30.0
    assert retry_after_seconds(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None


# --- how answers are sorted ----------------------------------------------------------------------


def test_a_receipt_is_accepted_and_a_replay_is_recognised() -> None:
    receipt = {"tcn": "TCN1", "sha256": SHA, "status": "pending", "received_at": "x"}
    assert submitted(202, receipt) == Accepted(receipt, replayed=False)
    assert submitted(200, receipt, Idempotent_Replayed="true") == Accepted(receipt, replayed=True)
    assert isinstance(submitted(202, {**receipt, "sha256": "00" * 32}), Refused)  # a receipt for other bytes


def test_validation_answers_are_rejections_that_name_fields_not_values() -> None:
    problems = [
        {"field": "2.018 NAM", "message": "DOE,JOHN is too long"},
        {"field": "2.024 SEX", "message": "Q"},
    ]
    outcome = submitted(422, {"error": "invalid", "problems": problems})
    assert outcome == Rejected(422, problems, "HTTP 422 invalid: 2 problem(s) in 2.018 NAM, 2.024 SEX")
    assert "DOE" not in outcome.reason
    assert isinstance(submitted(400, {"error": "malformed", "problems": []}), Rejected)
    assert isinstance(submitted(413, {"error": "too_large"}), Rejected)


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (503, {"Retry_After": "7"}, Transient("HTTP 503 (retry after 7 s)", 7.0, link=True)),
        (429, {}, Transient("HTTP 429", None, link=True)),
        (502, {}, Transient("HTTP 502", None, link=True)),
        (500, {}, Transient("HTTP 500", None, link=False)),  # maybe this item's own trouble
        (408, {}, Transient("HTTP 408", None, link=False)),
        (403, {}, Refused("HTTP 403 forbidden")),
        (409, {}, Refused("HTTP 409 conflict")),
        (401, {}, Refused("HTTP 401 forbidden")),
    ],
)
def test_transient_and_permanent_failures(status: int, headers: dict[str, str], expected: object) -> None:
    code = {403: "forbidden", 409: "conflict", 401: "forbidden"}.get(status)
    assert submitted(status, {"error": code} if code else None, **headers) == expected


def test_poll_answers() -> None:
    def polled(status: int, body: object = None):
        return classify_status(response(status, body), "TCN1", lambda: NOW)

    assert polled(200, {"tcn": "TCN1", "status": "pending"}) == Pending()
    complete = {"tcn": "TCN1", "status": "complete", "criminal": {"hit": True}, "immigration": {"hit": False}}
    assert polled(200, complete) == Answered({"criminal": {"hit": True}, "immigration": {"hit": False}})
    rejected = polled(200, {"tcn": "TCN1", "status": "rejected", "problems": [{"field": "2.018 NAM"}]})
    assert isinstance(rejected, Rejected) and rejected.problems == [{"field": "2.018 NAM"}]
    assert polled(404, {"error": "not_found"}) == Unknown()
    assert isinstance(polled(200, {"tcn": "OTHER", "status": "pending"}), Refused)
    assert polled(503) == Transient("HTTP 503", None, link=True)


def test_exceptions_are_named_with_their_os_reason() -> None:
    error = requests.ConnectionError("HTTPSConnectionPool(...): ([Errno 111] Connection refused)")
    assert describe_exception(error) == "ConnectionError: connection failed (Connection refused)"
    assert describe_exception(requests.ReadTimeout("read timed out")) == (
        "ReadTimeout: timed out waiting for the answer"
    )


# --- against the real centre ---------------------------------------------------------------------


@pytest.fixture
def client(centre: CentralProcess, pki: PkiLayout) -> CentreClient:
    made = CentreClient(endpoint(centre.url, pki))
    yield made
    made.close()


def test_the_centre_accepts_once_and_replays_the_receipt(client: CentreClient) -> None:
    sent = booking_transaction()
    first = client.submit(sent.tcn, sent.data)
    assert isinstance(first, Accepted) and not first.replayed and first.receipt["tcn"] == sent.tcn
    again = client.submit(sent.tcn, sent.data)
    assert again == Accepted(first.receipt | {"status": again.receipt["status"]}, replayed=True)
    assert isinstance(client.status(sent.tcn), Pending | Answered)


def test_the_centre_rejects_refuses_and_forgets(client: CentreClient) -> None:
    invalid = invalid_transaction()
    rejected = client.submit(invalid.tcn, invalid.data)
    assert isinstance(rejected, Rejected) and rejected.status == 422 and len(rejected.problems) >= 2
    assert "2.024 SEX" in rejected.reason
    foreign = booking_transaction(STATION_B)  # a TCN of another ORI than the certificate's
    assert client.submit(foreign.tcn, foreign.data) == Refused("HTTP 403 forbidden")
    sent = booking_transaction()
    assert isinstance(client.submit(sent.tcn, sent.data), Accepted)
    changed = other_bytes(sent)
    assert client.submit(changed.tcn, changed.data) == Refused("HTTP 409 conflict")
    assert client.status(booking_transaction().tcn) == Unknown()


def test_the_environment_ca_bundle_is_ignored(
    client: CentreClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bogus = tmp_path / "bundle.pem"
    bogus.write_text("not a certificate")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    sent = booking_transaction()
    assert isinstance(client.submit(sent.tcn, sent.data), Accepted)


def test_network_failures_are_transient(centre: CentralProcess, pki: PkiLayout, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    sent = booking_transaction()
    nobody = CentreClient(endpoint(f"https://127.0.0.1:{port}", pki, connect_timeout=2))
    outcome = nobody.submit(sent.tcn, sent.data)
    assert outcome == Transient("ConnectionError: connection failed (Connection refused)")
    init_pki(tmp_path / "foreign", stations=[STATION_A], site="elsewhere")
    stranger = CentreClient(endpoint(centre.url, PkiLayout(tmp_path / "foreign"), connect_timeout=2))
    outcome = stranger.submit(sent.tcn, sent.data)
    assert (
        isinstance(outcome, Transient) and outcome.error.startswith("SSLError: TLS failed") and outcome.link
    )
