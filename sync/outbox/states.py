"""The states of an outbox item, what each means, and which moves between them are allowed.

Three facts are also kept apart, as EBTS practice asks: *delivered* (``accepted_at``, the
centre's receipt), *answered* (one stored response per result: criminal, immigration) and
*acknowledged* (an officer has seen the answer). ``state`` is the summary a technician reads.
"""

from __future__ import annotations

QUEUED = "queued"
SENDING = "sending"
ACCEPTED = "accepted"
RESPONDED = "responded"
ACKNOWLEDGED = "acknowledged"
REJECTED = "rejected"
DEAD = "dead"

MEANING = {
    QUEUED: "waiting to be sent (see next attempt)",
    SENDING: "being sent now, under a lease",
    ACCEPTED: "the centre gave a receipt; waiting for its answer",
    RESPONDED: "the centre's answer is stored; an officer has yet to see it",
    ACKNOWLEDGED: "an officer has seen the answer",
    REJECTED: "the centre refused the booking (see its messages); fix it and submit a new TCN",
    DEAD: "delivery gave up (see last error); a technician can retry it",
}
STATES = tuple(MEANING)

TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({SENDING}),
    # SENDING -> SENDING: a lease that expired is taken over; -> QUEUED: retry later, or an interrupted send
    SENDING: frozenset({SENDING, QUEUED, ACCEPTED, REJECTED, DEAD}),
    ACCEPTED: frozenset({RESPONDED, REJECTED, QUEUED}),  # QUEUED: the centre lost it; send again
    RESPONDED: frozenset({ACKNOWLEDGED}),
    ACKNOWLEDGED: frozenset(),
    REJECTED: frozenset(),
    DEAD: frozenset({QUEUED}),  # a technician's retry
}
PURGEABLE = frozenset({DEAD, REJECTED})  # a technician may destroy these payloads at once


def sources(target: str) -> tuple[str, ...]:
    """The states from which an item may move to ``target``."""
    return tuple(state for state in STATES if target in TRANSITIONS[state])
