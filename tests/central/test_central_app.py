"""The app fails closed: a request without a verified client certificate in its scope is refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from central.app import create_app
from central.service import CentralService, ServiceConfig


def call(app: Any, scope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def scope(path: str, method: str = "GET", extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8443),
        "extensions": extensions or {},
    }


def test_requests_without_a_client_certificate_in_the_scope_are_refused(tmp_path: Path) -> None:
    service = CentralService(ServiceConfig(data_dir=tmp_path / "data"))
    app = create_app(service)
    try:
        for request in [
            scope("/v1/transactions", "POST"),
            scope("/v1/transactions/X"),
            scope("/v1/notifications"),
        ]:
            status, body = call(app, request)
            assert (status, body["error"]) == (403, "no_client_certificate")
        garbage = {
            "tls": {"client_cert_chain": ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]}
        }
        status, body = call(app, scope("/v1/notifications", extensions=garbage))
        assert (status, body["error"]) == (403, "unknown_identity")
    finally:
        service.stop()
