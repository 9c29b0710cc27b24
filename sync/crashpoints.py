"""Named moments of the queue-and-send path where a crash drill may stop the process.

Production passes ``no_crash_point``. The kill -9 drill (``sync.crash_drill``) passes a function
that announces the point and pauses there, so that its parent can SIGKILL the process at exactly
that moment: inside a write transaction, after a commit, between the centre's answer and the
record of it.
"""

from __future__ import annotations

from collections.abc import Callable

CrashPoint = Callable[[str], None]

SUBMIT_WRITTEN = "submit:written"  # booking, outbox row and audit entry written, COMMIT not yet run
SUBMIT_COMMITTED = "submit:committed"  # committed, the officer not yet told "saved"
SEND_CLAIMED = "send:claimed"  # lease taken, request not yet sent
SEND_ANSWERED = "send:answered"  # the centre has answered; the answer is not recorded yet
RECEIPT_WRITTEN = "receipt:written"  # the receipt written, COMMIT not yet run
POLL_ANSWERED = "poll:answered"  # the centre's results fetched, not recorded yet
RESULTS_WRITTEN = "results:written"  # the results written, COMMIT not yet run
ACKNOWLEDGE_WRITTEN = "acknowledge:written"  # an officer's acknowledgement written, COMMIT not yet run

ALL = (
    SUBMIT_WRITTEN, SUBMIT_COMMITTED, SEND_CLAIMED, SEND_ANSWERED, RECEIPT_WRITTEN,
    POLL_ANSWERED, RESULTS_WRITTEN, ACKNOWLEDGE_WRITTEN,
)  # fmt: skip


def no_crash_point(name: str) -> None:
    return None
