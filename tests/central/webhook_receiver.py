"""A webhook endpoint on 127.0.0.1 that records what it gets and fails the first N requests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    status: int
    idempotency_key: str | None
    payload: dict[str, Any]


class WebhookReceiver:
    def __init__(self, *, fail_first: int = 0, failure_status: int = 503) -> None:
        self.deliveries: list[Delivery] = []
        self._fail_first = fail_first
        self._failure_status = failure_status
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"null")
                status = receiver._record(self.headers.get("Idempotency-Key"), payload)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/notify"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, key: str | None, payload: dict[str, Any]) -> int:
        with self._lock:
            status = self._failure_status if len(self.deliveries) < self._fail_first else 200
            self.deliveries.append(Delivery(status, key, payload))
            return status

    def wait_for_success(self, timeout: float = 15.0) -> list[Delivery]:
        """Every delivery received, once one has succeeded; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if any(delivery.status == 200 for delivery in self.deliveries):
                    return list(self.deliveries)
            time.sleep(0.02)
        raise AssertionError(f"no successful delivery within {timeout} s: {self.deliveries}")
