"""``livescan diag queue``: the outbox's counts by state, the oldest waiting item's age, and the
dead letters and rejections with their reasons (TCNs, states and error texts only: no personal data).
"""

from __future__ import annotations

from pathlib import Path

from station.diag.report import FAIL, OK, WARN, Finding
from sync.clock import Clock, parse_timestamp, utc_now
from sync.keyring import KeyFile
from sync.outbox import ACCEPTED, DEAD, QUEUED, REJECTED, SENDING, Outbox, OutboxError

CHECK = "queue"
WAITING = (QUEUED, SENDING, ACCEPTED)
STALE_HOURS = 24.0


def check_queue(database: Path, key_file: Path, *, clock: Clock = utc_now, limit: int = 50) -> list[Finding]:
    """Read the outbox (never changing it) and report on it."""
    if not database.exists():
        return [Finding(CHECK, "outbox", WARN, f"no outbox at {database} yet (the station has not run)")]
    try:
        outbox = Outbox(database, KeyFile(key_file, check_now=False), create=False)
    except OutboxError as exc:
        return [Finding(CHECK, "outbox", FAIL, str(exc))]
    try:
        counts = outbox.counts()
        waiting = outbox.items(WAITING, 1)
        dead = outbox.items((DEAD, REJECTED), limit)
    except OutboxError as exc:
        return [Finding(CHECK, "outbox", FAIL, str(exc))]
    finally:
        outbox.close()
    summary = ", ".join(f"{state} {count}" for state, count in counts.items() if count) or "empty"
    findings = [Finding(CHECK, "counts", OK, summary, data=dict(counts))]
    if waiting:
        oldest = waiting[0]
        hours = (clock() - parse_timestamp(oldest.created_at)).total_seconds() / 3600
        data = {
            "tcn": oldest.tcn,
            "state": oldest.state,
            "age_hours": round(hours, 2),
            "attempts": oldest.attempts,
            "last_error": oldest.last_error,
        }
        status = WARN if hours > STALE_HOURS else OK
        advice = (
            f"waiting for more than {STALE_HOURS:g} h: check `livescan diag network`"
            + (f" (last error: {oldest.last_error})" if oldest.last_error else "")
            if status == WARN
            else ""
        )
        findings.append(
            Finding(
                CHECK,
                "oldest",
                status,
                f"oldest waiting booking {oldest.tcn} is {_age(hours)} old ({oldest.state})",
                advice,
                data,
            )
        )
    else:
        findings.append(Finding(CHECK, "oldest", OK, "nothing waiting to be sent or answered"))
    for item in dead:
        reason = item.last_error or "no reason recorded"
        advice = (
            f"fix the cause, then `livescan queue retry {item.tcn}`"
            if item.state == DEAD
            else "the centre refused it; `livescan queue show` gives its messages (an audited read)"
        )
        findings.append(
            Finding(
                CHECK,
                "dead letter" if item.state == DEAD else "rejected",
                WARN,
                f"{item.tcn}: {reason}",
                advice,
                {"tcn": item.tcn, "state": item.state, "attempts": item.attempts, "reason": reason},
            )
        )
    return findings


def _age(hours: float) -> str:
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"
