"""What ``GET /v1/transactions/{tcn}`` returns for each state of a transaction."""

from __future__ import annotations

from typing import Any

from central.notifications import NotificationRecord
from central.transactions import COMPLETE, REJECTED, TransactionRecord


def transaction_view(record: TransactionRecord, notification: NotificationRecord | None) -> dict[str, Any]:
    """pending: the receipt; rejected: the problems; complete: both results, and whether the
    immigration notification went out (``notification``: null when there was no immigration hit)."""
    view: dict[str, Any] = {"tcn": record.tcn, "status": record.status, "received_at": record.received_at}
    if record.status == REJECTED:
        view["completed_at"] = record.completed_at
        view["problems"] = record.problems or []
    elif record.status == COMPLETE and record.results is not None:
        view["completed_at"] = record.completed_at
        view["criminal"] = record.results["criminal"]
        view["immigration"] = {**record.results["immigration"], "notification": _notification(notification)}
    return view


def _notification(notification: NotificationRecord | None) -> dict[str, Any] | None:
    if notification is None:
        return None
    return {
        "status": notification.status,
        "sent": notification.status == "delivered",
        "delivered_at": notification.delivered_at,
        "attempts": notification.attempts,
    }
