"""The central matching service (issue 4): intake over mutual TLS, search, answers, notifications.

Commands (``central.cli``): ``livescan pki init DIR --station ORI:ID ... [--operator NAME]``,
``livescan central serve --pki DIR --data DIR [--key-file KEY] [--webhook URL] [--matching off]``,
``livescan central enroll --db DIR/galleries.db ...``, ``livescan central notifications ls --data
DIR`` and ``livescan central key rotate --data DIR``. Personal and biometric data is sealed at
rest (AES-256-GCM, ``central.sealed_store``) under ``DIR/central.key`` unless ``--key-file`` says
otherwise; the key file is created 0600 on first use and must be backed up with the data.

API, every caller identified by its client certificate (``central.identity``):

* ``POST /v1/transactions`` (station), ANSI/NIST-ITL bytes, ``Idempotency-Key: <TCN>``:
  202 receipt ``{tcn, received_at, sha256, status}``; replay of the same bytes 200 with the same
  receipt (header ``Idempotent-Replayed: true``, status = the current one); same TCN with other
  bytes 409; EBTS problems 422 ``{error, message, problems: [{field, message}]}`` (kept as
  ``rejected``); unreadable bytes, missing or mismatched key 400; another ORI 403; over 2 MiB 413.
* ``GET /v1/transactions/{tcn}`` (the submitting ORI only, else 404): pending | rejected
  (problems) | complete (``criminal``: hit, candidates, record_summary, level; ``immigration``:
  hit, candidates, notification {status, sent, delivered_at, attempts} or null).
* ``GET /v1/notifications?status=&limit=`` (operator certificates only): delivery states.

Modules, one job each: ``pki`` certificates; ``identity`` who a certificate is; ``tls`` the client
certificate into the ASGI scope; ``app`` HTTP; ``intake`` the POST decisions; ``db``,
``transactions``, ``notifications`` storage (``sealed_store``: the envelopes and the key file);
``processing`` search workers; ``answers`` and ``views`` result shapes; ``delivery`` the webhook
(its backoff is ``sync.backoff``, shared with the station); ``matching`` the matcher seam;
``service`` the wiring; ``server`` uvicorn; ``process`` a server in a child process. The search
itself (galleries, enrolment, fusion, levels) is in ``galleries``, ``search``, ``enrol``,
``levels``. Times come from ``sync.clock``, shared with the station.
"""
