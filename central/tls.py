"""Mutual TLS under uvicorn, and the client certificate handed to the app.

uvicorn verifies client certificates (``ssl_cert_reqs=CERT_REQUIRED`` with the site CA), but does
not put the peer certificate into the ASGI scope. ``ClientCertH11Protocol`` does: asyncio calls
``connection_made`` only once the TLS handshake has completed, so the verified certificate is
read there from the transport's ``ssl_object`` and every request of that connection gets the
ASGI TLS extension (``scope["extensions"]["tls"]``, asgiref's "TLS" extension spec) with
``client_cert_chain`` = [the leaf certificate in PEM]. A connection without a verified
certificate (impossible with CERT_REQUIRED; fail closed anyway) is closed before any request.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)
TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(ssl_object: ssl.SSLObject | None) -> dict[str, Any] | None:
    """The ASGI TLS extension for a connection; None without a verified client certificate."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    peer = ssl_object.getpeercert() or {}
    subject = ",".join(f"{key}={value}" for rdn in reversed(peer.get("subject", ())) for key, value in rdn)
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
        "client_cert_name": subject or None,
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class _WithTlsExtension:
    """Wraps the app for one connection: adds that connection's TLS extension to each scope."""

    def __init__(self, app: Any, tls: dict[str, Any]) -> None:
        self._app = app
        self._tls = tls

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": self._tls}}
        await self._app(scope, receive, send)


class ClientCertH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the verified client certificate in every request's scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = tls_extension(transport.get_extra_info("ssl_object"))
        if tls is None:
            log.warning("connection from %s without a verified client certificate closed", self.client)
            transport.close()
            return
        self.app = _WithTlsExtension(self.app, tls)


def harden(config: Any, default_factory: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn ``ssl_context_factory``: its context (CA, CERT_REQUIRED), with TLS 1.2 as the floor."""
    context = default_factory()
    if context.verify_mode != ssl.CERT_REQUIRED:
        raise RuntimeError("the central service runs with mutual TLS only (ssl_cert_reqs=CERT_REQUIRED)")
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
