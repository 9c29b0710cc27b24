"""The central service's parts wired together: storage, intake, search workers, webhook delivery.

``matcher=None`` is "matching off" (intake benchmarks, a centre without galleries yet): accepted
transactions are stored and stay ``pending``; no search runs and no answer is made up. A later
start with a matcher resumes them. Without a webhook, notifications are recorded and stay
``pending`` until a start with a webhook delivers them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.db import Database
from central.delivery import WebhookDelivery
from central.identity import ClientIdentity
from central.intake import Intake
from central.matching import Matcher
from central.notifications import NotificationRecord, NotificationStore
from central.processing import SearchWorkers
from central.transactions import TransactionStore
from central.views import transaction_view
from sync.backoff import Backoff
from sync.clock import Clock, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceConfig:
    data_dir: Path
    key_file: Path | None = None  # None: DIR/central.key, created on first use
    matcher: Matcher | None = None  # None: matching off
    webhook: str | None = None
    webhook_verify: bool | str = True  # True, or a CA bundle file for an https webhook
    backoff: Backoff = field(default_factory=Backoff)
    workers: int = 2
    clock: Clock = utc_now


class CentralService:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.database = Database(config.data_dir, keys=config.key_file)
        self.notifications = NotificationStore(self.database)
        self.transactions = TransactionStore(self.database, self.notifications)
        self.delivery = (
            WebhookDelivery(
                self.notifications, config.webhook, backoff=config.backoff, clock=config.clock,
                verify=config.webhook_verify,
            )
            if config.webhook
            else None
        )  # fmt: skip
        self.search = (
            SearchWorkers(
                self.transactions, config.matcher, workers=config.workers, clock=config.clock,
                on_notification=self._notification_created,
            )
            if config.matcher is not None
            else None
        )  # fmt: skip
        self.intake = Intake(self.transactions, clock=config.clock, on_accepted=self._accepted)

    def start(self) -> None:
        if self.delivery is not None:
            self.delivery.start()
        if self.search is not None:
            self.search.start()
        log.info(
            "central service started (matching %s, webhook %s)",
            "on" if self.search else "off", "configured" if self.delivery else "none",
        )  # fmt: skip

    def stop(self) -> None:
        if self.search is not None:
            self.search.stop()
        if self.delivery is not None:
            self.delivery.stop()
        self.database.close()

    def transaction(self, caller: ClientIdentity, tcn: str) -> dict[str, Any] | None:
        """The state of ``tcn`` for the ORI that submitted it; None for anyone else (no existence leak)."""
        record = self.transactions.get(tcn)
        if record is None or record.ori != caller.ori:
            return None
        return transaction_view(record, self.notifications.for_transaction(tcn))

    def recent_notifications(self, status: str | None, limit: int) -> list[NotificationRecord]:
        return self.notifications.recent(status=status, limit=limit)

    def _accepted(self, tcn: str) -> None:
        if self.search is not None:
            self.search.submit(tcn)

    def _notification_created(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()
