"""The wire between station and centre (issues 4, 5).

* ``transaction``: the ANSI/NIST-ITL booking transaction (EBTS CAR), shared with the centre.
* ``outbox``: the station's durable, encrypted queue (SQLite, WAL, ``synchronous=FULL``); the
  only writer of its tables. ``keyring`` and ``sealing``: the AES-256-GCM key file and envelopes.
* ``client``: HTTPS to the centre (mutual TLS, timeouts, ``Idempotency-Key: <TCN>``), every
  answer sorted into accepted / rejected / refused / transient; ``backoff``: capped exponential
  backoff with full jitter (the centre's webhook uses it too).
* ``worker``: the sync worker thread (oldest first, woken on submit, polls for answers, retention);
  ``lock``: one process owns the sending side; ``clock``: injectable UTC time.
* ``cli``: ``livescan queue`` for technicians.
* Proof tools: ``crashpoints`` (named moments to crash at), ``crash_drill`` (the kill -9 drill),
  ``fault_proxy`` (a loopback proxy that resets, drops, trickles and refuses).

This package knows nothing of sensors or stations; the station daemon owns the worker thread.
"""
