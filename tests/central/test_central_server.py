"""The real service in a child process, over mutual TLS on 127.0.0.1, with a fake matcher."""

from __future__ import annotations

import socket
import sqlite3
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from central_helpers import (
    HERE,
    ORI_A,
    ORI_B,
    STATION_A,
    STATION_B,
    Client,
    operator_client,
    station_client,
    transaction,
)
from transaction_samples import with_subject
from webhook_receiver import WebhookReceiver

from central.pki import PkiLayout
from central.process import CentralProcess
from sync.transaction import MAX_TRANSACTION_BYTES, build_message

COMPLETE = "complete".__eq__


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(fail_first=2) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def centre(
    pki: PkiLayout, webhook: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CentralProcess]:
    work = tmp_path_factory.mktemp("centre")
    options = [
        "--matcher", "fake_matcher:open_matcher", "--webhook", webhook.url,
        "--webhook-retry-base", "0.05", "--webhook-retry-cap", "0.2",
    ]  # fmt: skip
    with CentralProcess(
        pki.root, work / "data", log=work / "central.log", options=options, python_path=[HERE]
    ) as process:
        yield process


@pytest.fixture
def station_a(centre: CentralProcess, pki: PkiLayout) -> Iterator[Client]:
    client = station_client(centre.url, pki, STATION_A)
    yield client
    client.close()


@pytest.fixture
def station_b(centre: CentralProcess, pki: PkiLayout) -> Iterator[Client]:
    client = station_client(centre.url, pki, STATION_B)
    yield client
    client.close()


def is_complete(view: dict) -> bool:
    return view["status"] == "complete"


def stored_count(centre: CentralProcess, tcn: str) -> int:
    data_dir = Path(centre.command[centre.command.index("--data") + 1])
    with sqlite3.connect(f"file:{data_dir / 'central.db'}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT count(*) FROM transactions WHERE tcn = ?", [tcn]).fetchone()[0]


def test_valid_booking_is_accepted_then_answered(station_a: Client) -> None:
    sent = transaction(case="CRIM-1")
    receipt = station_a.submit(sent.data, sent.tcn)
    assert receipt.status_code == 202, receipt.text
    assert receipt.json()["tcn"] == sent.tcn and receipt.json()["status"] == "pending"
    view = station_a.wait_for(sent.tcn, is_complete)
    assert view["status"] == "complete"
    assert view["criminal"]["hit"] is True and view["criminal"]["level"] == 2
    assert view["criminal"]["candidates"][0]["rank"] == 1
    assert view["immigration"] == {
        "gallery": "immigration",
        "hit": False,
        "candidates": [],
        "notification": None,
    }


def test_duplicate_gets_the_original_receipt_and_conflict_is_409(
    station_a: Client, centre: CentralProcess
) -> None:
    sent = transaction()
    first = station_a.submit(sent.data, sent.tcn)
    again = station_a.submit(sent.data, sent.tcn)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() | {"status": "pending"} == first.json()  # same receipt; the status may have moved on
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = transaction(case="2024-CHANGED", tcn=sent.tcn)
    conflict = station_a.submit(changed.data, sent.tcn)
    assert conflict.status_code == 409 and conflict.json()["error"] == "conflict"
    assert stored_count(centre, sent.tcn) == 1


def test_invalid_booking_is_422_listing_problems_by_field(station_a: Client) -> None:
    sent = transaction()
    broken = with_subject(sent.booking, sex="Q", eye_colour="PURPLE")
    response = station_a.submit(build_message(broken).NIST, sent.tcn)
    assert response.status_code == 422
    fields = {problem["field"] for problem in response.json()["problems"]}
    assert {"2.024 SEX", "2.031 EYE"} <= fields
    view = station_a.status(sent.tcn).json()
    assert view["status"] == "rejected" and {p["field"] for p in view["problems"]} == fields


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: b"",
        lambda data: b"\x00" * 5000,
        lambda data: data[:-700],
        lambda data: data.replace(b"\x1c", b"\x1d"),
        lambda data: b"1.001:1" + b"9" * 5000 + b"\x1d" + data,
        lambda data: b"GET / HTTP/1.1\r\n\r\n",
    ],
    ids=["empty", "nuls", "truncated", "no-record-ends", "absurd-len", "http-inside"],
)
def test_malformed_and_hostile_bodies_get_a_clean_400(
    station_a: Client, centre: CentralProcess, mangle
) -> None:
    sent = transaction()
    response = station_a.submit(mangle(sent.data), sent.tcn)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed" and response.json()["problems"]
    assert stored_count(centre, sent.tcn) == 0


def test_missing_or_mismatched_idempotency_key_is_400(station_a: Client) -> None:
    sent, other = transaction(), transaction()
    assert station_a.submit(sent.data, None).status_code == 400
    assert station_a.submit(sent.data, "' OR 1=1 --").status_code == 400
    mismatch = station_a.submit(sent.data, other.tcn)
    assert mismatch.status_code == 400 and mismatch.json()["problems"][0]["field"] == "1.009 TCN"


def test_oversized_bodies_are_413(station_a: Client) -> None:
    sent = transaction()
    declared = station_a.submit(b"\x1c" * (MAX_TRANSACTION_BYTES + 1), sent.tcn)
    assert declared.status_code == 413
    chunked = station_a.submit(iter([b"\x1c" * 65536] * 48), sent.tcn)  # 3 MiB, no Content-Length
    assert chunked.status_code == 413
    assert station_a.status(sent.tcn).status_code == 404


def tls_context(pki: PkiLayout, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if cert:
        context.load_cert_chain(*cert)
    return context


def raw_exchange(url: str, context: ssl.SSLContext, request: bytes) -> bytes:
    """Send ``request`` over TLS and read until the server closes (bounded by timeouts)."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(request)
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
        return received


def test_a_huge_declared_body_is_refused_without_being_read(centre: CentralProcess, pki: PkiLayout) -> None:
    tcn = transaction().tcn
    request = (
        f"POST /v1/transactions HTTP/1.1\r\nHost: 127.0.0.1\r\nIdempotency-Key: {tcn}\r\n"
        "Content-Length: 10000000000\r\n\r\n"
    ).encode()
    context = tls_context(pki, (pki.station_cert(STATION_A), pki.station_key(STATION_A)))
    answer = raw_exchange(centre.url, context, request)
    assert answer.startswith(b"HTTP/1.1 413")  # and the server closed the connection


def test_no_client_certificate_is_refused_in_the_handshake(centre: CentralProcess, pki: PkiLayout) -> None:
    sent = transaction()
    anonymous = Client(centre.url, pki.ca_cert, None)
    with pytest.raises(requests.exceptions.ConnectionError):
        anonymous.submit(sent.data, sent.tcn)
    context = tls_context(pki, None)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # the refusal then falls inside the handshake itself
    with pytest.raises(ssl.SSLError):
        raw_exchange(centre.url, context, b"GET /v1/notifications HTTP/1.1\r\nHost: x\r\n\r\n")


def test_a_certificate_from_another_ca_is_refused(
    centre: CentralProcess, pki: PkiLayout, foreign_pki: PkiLayout
) -> None:
    sent = transaction()
    impostor = Client(
        centre.url, pki.ca_cert, (foreign_pki.station_cert(STATION_A), foreign_pki.station_key(STATION_A))
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        impostor.submit(sent.data, sent.tcn)
    context = tls_context(pki, (foreign_pki.station_cert(STATION_A), foreign_pki.station_key(STATION_A)))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        raw_exchange(centre.url, context, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_a_station_cannot_submit_under_another_ori(station_b: Client, centre: CentralProcess) -> None:
    theirs = transaction(STATION_A)
    refused = station_b.submit(theirs.data, theirs.tcn)
    assert refused.status_code == 403 and ORI_B in refused.json()["message"]
    disguised = transaction(STATION_B, ori=ORI_A)  # B's own TCN, A's ORI in 1.008
    assert station_b.submit(disguised.data, disguised.tcn).status_code == 403
    assert stored_count(centre, theirs.tcn) == stored_count(centre, disguised.tcn) == 0


def test_two_stations_at_once_each_see_only_their_own(station_a: Client, station_b: Client) -> None:
    def work(client: Client, station) -> list[str]:
        sent = [transaction(station) for _ in range(4)]
        for item in sent:
            assert client.submit(item.data, item.tcn).status_code == 202
        for item in sent:
            assert client.wait_for(item.tcn, is_complete)["status"] == "complete"
        return [item.tcn for item in sent]

    with ThreadPoolExecutor(2) as pool:
        tcns_a, tcns_b = pool.map(work, [station_a, station_b], [STATION_A, STATION_B])
    for tcn in tcns_b:
        assert station_a.status(tcn).status_code == 404
    for tcn in tcns_a:
        assert station_b.status(tcn).status_code == 404


def test_concurrent_identical_posts_are_stored_once(centre: CentralProcess, pki: PkiLayout) -> None:
    sent = transaction()
    clients = [station_client(centre.url, pki, STATION_A) for _ in range(8)]
    barrier = threading.Barrier(len(clients))

    def post(client: Client) -> requests.Response:
        barrier.wait(timeout=10)
        return client.submit(sent.data, sent.tcn)

    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            responses = list(pool.map(post, clients))
    finally:
        for client in clients:
            client.close()
    assert Counter(response.status_code for response in responses) == {202: 1, 200: 7}
    assert len({response.json()["received_at"] for response in responses}) == 1
    assert stored_count(centre, sent.tcn) == 1


def test_immigration_hit_notifies_the_webhook_with_retries(
    station_a: Client, webhook: WebhookReceiver
) -> None:
    sent = transaction(case="IMM-1")
    assert station_a.submit(sent.data, sent.tcn).status_code == 202
    deliveries = webhook.wait_for_success(timeout=15)
    assert [delivery.status for delivery in deliveries] == [503, 503, 200]
    assert {delivery.idempotency_key for delivery in deliveries} == {sent.tcn}
    payload = deliveries[-1].payload
    assert payload["tcn"] == sent.tcn and payload["requesting_ori"] == ORI_A
    assert payload["candidates"][0]["subject_id"] == "I-0001"
    view = station_a.wait_for(sent.tcn, lambda v: (v["immigration"]["notification"] or {}).get("sent", False))
    assert view["immigration"]["hit"] is True and view["immigration"]["notification"]["sent"] is True
    assert view["criminal"]["hit"] is False


def test_notifications_are_listed_for_operators_only(
    centre: CentralProcess, pki: PkiLayout, station_a: Client
) -> None:
    operator = operator_client(centre.url, pki)
    try:
        listed = operator.session.get(f"{centre.url}/v1/notifications", timeout=10)
        assert listed.status_code == 200
        assert all("payload" not in notice for notice in listed.json()["notifications"])
        sent = transaction()
        assert operator.submit(sent.data, sent.tcn).status_code == 403
    finally:
        operator.close()
    assert station_a.session.get(f"{centre.url}/v1/notifications", timeout=10).status_code == 403


def test_logs_hold_no_personal_or_biometric_data(centre: CentralProcess, station_a: Client) -> None:
    sent = transaction()
    assert station_a.submit(sent.data, sent.tcn).status_code == 202
    station_a.wait_for(sent.tcn, is_complete)
    log = centre.log.read_text(errors="replace")
    assert f"accepted {sent.tcn}" in log
    subject = sent.booking.subject
    for secret in [subject.name, *subject.aliases, "JOHN", "SMITH", "19800102", "1980-01-02", "123456789"]:
        assert secret not in log
    assert "\xff\xa0" not in log and "14.999" not in log  # no image bytes either
