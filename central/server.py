"""Run the central service: uvicorn, mutual TLS only, the client certificate in every scope.

``serve`` prints one line once it accepts connections (``READY_PREFIX`` + the URL, with the real
port when 0 was asked for) so that scripts and tests know when and where to connect.
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys

import uvicorn

from central.app import create_app
from central.pki import PkiLayout
from central.service import CentralService, ServiceConfig
from central.tls import ClientCertH11Protocol, harden

READY_PREFIX = "central: listening on "
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _AnnouncingServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            print(f"{READY_PREFIX}https://{host}:{port}", flush=True)


def build_server(service: CentralService, layout: PkiLayout, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(service),
        host=host,
        port=port,
        http=ClientCertH11Protocol,
        ws="none",
        lifespan="on",
        proxy_headers=False,  # no proxy in front: client addresses are the peers' own
        server_header=False,
        log_level="info",
        timeout_graceful_shutdown=10,
        ssl_certfile=layout.server_cert,
        ssl_keyfile=layout.server_key,
        ssl_ca_certs=layout.ca_cert,
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        ssl_context_factory=harden,
    )
    return _AnnouncingServer(config)


def serve(config: ServiceConfig, layout: PkiLayout, host: str, port: int) -> None:
    server = build_server(CentralService(config), layout, host, port)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)  # after uvicorn's own setup
    server.run()
