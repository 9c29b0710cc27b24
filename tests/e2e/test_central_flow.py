"""A booking from the station's outbox to a real centre and back, with the real matcher.

Synthetic bookings (capture impressions, WSQ) are encoded as CAR transactions, queued in a station
outbox and delivered by the sync worker over mutual TLS to ``livescan central serve`` in a child
process, which searches both galleries of a small synthetic population (search_population.py:
S0001..S0012, six fingers each, plus impostor fillers) and notifies a webhook of an immigration hit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from outbox_helpers import FAST, STATION_A, endpoint, new_outbox, pki, wait_until
from search_population import booking, enrol_population, masters_cache
from transaction_samples import with_header
from webhook_receiver import WebhookReceiver

from central.db import Database
from central.galleries import GALLERY_FILE, Gallery
from central.gallery_synthetic import planned_galleries, planned_level
from central.pki import PkiLayout
from central.process import CentralProcess
from sync.client import Answered, CentreClient
from sync.clock import utc_now
from sync.outbox import Outbox
from sync.outbox.states import RESPONDED
from sync.transaction import TcnIssuer, encode
from sync.worker import SyncWorker

__all__ = ["pki"]  # fixture
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # renders ~70 masters when no cache is warm

# criminal only (offence level 2), immigration only, in neither gallery
CRIMINAL, IMMIGRATION, NOBODY = "S0008", "S0007", "S0005"
SUBJECTS = (CRIMINAL, IMMIGRATION, NOBODY)
OFFICER = "officer-17"


@dataclass(frozen=True)
class Flow:
    outbox: Outbox
    client: CentreClient
    webhook: WebhookReceiver
    tcns: dict[str, str]  # subject -> TCN the station issued
    answers: dict[str, dict[str, Any]]  # subject -> results stored in the outbox
    centre_data: Path


@pytest.fixture(scope="module")
def flow(pki: PkiLayout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    work = tmp_path_factory.mktemp("central-flow")
    cache_dir = masters_cache(tmp_path_factory)
    enrol_population(work / "data" / GALLERY_FILE, cache_dir)
    options = ["--webhook-retry-base", "0.05", "--webhook-retry-cap", "0.2"]
    with (
        WebhookReceiver() as webhook,
        CentralProcess(
            pki.root, work / "data", log=work / "central.log", options=["--webhook", webhook.url, *options]
        ) as centre,
    ):
        outbox = new_outbox(work / "station")
        client = CentreClient(endpoint(centre.url, pki, STATION_A))
        worker = SyncWorker(outbox, client, FAST)
        issuer = TcnIssuer(STATION_A.ori, STATION_A.station_id, utc_now, outbox.next_sequence)
        tcns: dict[str, str] = {}
        worker.start()
        try:
            for subject in SUBJECTS:
                made = with_header(booking(cache_dir, subject), tcn=issuer.issue().text, ori=STATION_A.ori)
                tcns[subject] = outbox.submit(encode(made, now=utc_now()), actor=OFFICER)
            responded = wait_until(lambda: all(state(outbox, tcn) == RESPONDED for tcn in tcns.values()), 120)
        finally:
            worker.stop()
        try:
            states = {subject: state(outbox, tcn) for subject, tcn in tcns.items()}
            assert responded, f"not all answered: {states}; centre log {work / 'central.log'}"
            answers = {subject: outbox.results(tcn, OFFICER) for subject, tcn in tcns.items()}
            yield Flow(outbox, client, webhook, tcns, answers, work / "data")
        finally:
            client.close()
            outbox.close()


def state(outbox: Outbox, tcn: str) -> str | None:
    item = outbox.item(tcn)
    return None if item is None else item.state


def test_the_population_puts_each_subject_where_the_test_expects() -> None:
    expected = [{Gallery.CRIMINAL}, {Gallery.IMMIGRATION}, set()]
    assert [planned_galleries(int(s[1:])) for s in SUBJECTS] == expected


def test_the_outbox_holds_both_answers_of_every_booking(flow: Flow) -> None:
    for subject, tcn in flow.tcns.items():
        item = flow.outbox.item(tcn)
        assert item is not None and item.state == RESPONDED
        assert item.answered == ("criminal", "immigration")
        assert item.receipt is not None and item.receipt["tcn"] == tcn
        assert set(flow.answers[subject]) == {"criminal", "immigration"}


def test_a_criminal_gallery_subject_is_a_criminal_hit_at_rank_1_with_the_offence_level(flow: Flow) -> None:
    criminal = flow.answers[CRIMINAL]["criminal"]
    assert criminal["hit"] is True
    best = criminal["candidates"][0]
    assert (best["subject_id"], best["rank"]) == (CRIMINAL, 1)
    assert criminal["level"] == planned_level(int(CRIMINAL[1:])) == 2
    assert criminal["record_summary"]["level"] == 2
    immigration = flow.answers[CRIMINAL]["immigration"]
    assert (immigration["hit"], immigration["candidates"], immigration["notification"]) == (False, [], None)


def test_an_immigration_gallery_subject_is_an_immigration_hit_and_the_authority_is_notified(
    flow: Flow,
) -> None:
    immigration = flow.answers[IMMIGRATION]["immigration"]
    assert immigration["hit"] is True
    assert [(c["subject_id"], c["rank"]) for c in immigration["candidates"]][:1] == [(IMMIGRATION, 1)]
    assert immigration["notification"] is not None
    criminal = flow.answers[IMMIGRATION]["criminal"]
    assert (criminal["hit"], criminal["candidates"], criminal["level"]) == (False, [], None)

    delivered = [d for d in flow.webhook.wait_for_success() if d.status == 200]
    assert [d.payload["tcn"] for d in delivered] == [flow.tcns[IMMIGRATION]]
    assert delivered[0].payload["candidates"][0]["subject_id"] == IMMIGRATION
    assert delivered[0].payload["criminal_hit"] is False

    def notification_sent() -> bool:
        outcome = flow.client.status(flow.tcns[IMMIGRATION])
        return isinstance(outcome, Answered) and outcome.results["immigration"]["notification"]["sent"]

    assert wait_until(notification_sent, timeout=15)  # and the station can see that it went out


def test_a_subject_in_neither_gallery_gets_two_no_hits(flow: Flow) -> None:
    answers = flow.answers[NOBODY]
    assert (answers["criminal"]["hit"], answers["criminal"]["candidates"]) == (False, [])
    assert (answers["immigration"]["hit"], answers["immigration"]["candidates"]) == (False, [])
    assert answers["criminal"]["record_summary"] is None and answers["immigration"]["notification"] is None


def test_the_centre_keeps_the_station_audit_head_as_an_anchor_its_log_contains(flow: Flow) -> None:
    database = Database(flow.centre_data)
    try:
        anchors = {anchor.head.label: anchor for anchor in database.audit_anchors()}
    finally:
        database.close()
    anchor = anchors[f"{STATION_A.ori}/{STATION_A.station_id}"]
    assert anchor.heads >= len(SUBJECTS) and not anchor.went_back  # a head per delivery
    entry = flow.outbox.audit_trail(limit=anchor.head.entry_id)[-1]
    assert (entry.id, entry.hash) == (anchor.head.entry_id, anchor.head.hash)
    assert flow.outbox.verify_audit(anchor=anchor.head.hash).ok
