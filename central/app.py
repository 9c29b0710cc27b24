"""The HTTP API (FastAPI) of the central service. Every caller is known by its client certificate.

* ``POST /v1/transactions`` (stations): ANSI/NIST-ITL bytes, ``Idempotency-Key: <TCN>``. Status
  codes are decided in ``central.intake``; 413 here when the body passes ``max_bytes``. An optional
  ``Livescan-Audit-Head`` is kept by ``central.intake.keep_audit_head``, never changing the answer.
* ``GET /v1/transactions/{tcn}`` (stations): the state and answers; 404 for a TCN of another ORI.
  A ``Livescan-Audit-Head`` on a poll that is answered is kept too.
* ``PUT /v1/audit-head`` (stations): the ``Livescan-Audit-Head`` alone, sent now and then by a
  station that has had nothing to deliver or ask about since its log grew; 204, or 400 when the
  header is missing or malformed.
* ``GET /v1/notifications`` (operators): notification states, without their payloads.

The body is read in chunks and never held beyond ``max_bytes``. Up to ``DRAIN_BYTES`` of excess is
read and dropped so that the client, still sending, sees the 413; a body declared or found bigger
than that gets the 413 with ``Connection: close`` at once. Errors are JSON ``{error, message,
problems?}``; the identity comes from the TLS extension that ``central.tls`` puts in the scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from central.identity import ClientIdentity, IdentityError, identity_from_pem
from central.intake import Reply, error, keep_audit_head, keep_parsed_head
from central.notifications import DELIVERED, FAILED, PENDING
from central.service import CentralService
from sync.outbox.audit import AUDIT_HEAD_HEADER, AuditHead, MalformedAuditHead

DRAIN_BYTES = 8 * 1024 * 1024


class Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body.get("message"))
        self.reply = reply


def respond(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


def client_identity(request: Request) -> ClientIdentity:
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        raise Refused(error(403, "no_client_certificate", "a client certificate is required"))
    try:
        return identity_from_pem(chain[0])
    except IdentityError as exc:
        raise Refused(error(403, "unknown_identity", str(exc))) from None


def station(caller: Annotated[ClientIdentity, Depends(client_identity)]) -> ClientIdentity:
    if not caller.is_station:
        raise Refused(error(403, "forbidden", "only station certificates may use this endpoint"))
    return caller


def operator(caller: Annotated[ClientIdentity, Depends(client_identity)]) -> ClientIdentity:
    if not caller.is_operator:
        raise Refused(error(403, "forbidden", "only operator certificates may use this endpoint"))
    return caller


Station = Annotated[ClientIdentity, Depends(station)]
Operator = Annotated[ClientIdentity, Depends(operator)]


async def read_body(request: Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes of it held; ``Refused`` (413) when it is bigger."""
    too_large = error(413, "too_large", f"a transaction is at most {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAIN_BYTES:
        raise Refused(Reply(413, too_large.body, {"Connection": "close"}))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_BYTES:
            raise Refused(Reply(413, too_large.body, {"Connection": "close"}))
    if size > limit:
        raise Refused(too_large)
    return b"".join(chunks)


def create_app(service: CentralService) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = FastAPI(
        title="Livescan central service", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return respond(exc.reply)

    @app.post("/v1/transactions")
    async def submit_transaction(
        request: Request,
        caller: Station,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
        audit_head: Annotated[str | None, Header(alias=AUDIT_HEAD_HEADER)] = None,
    ) -> JSONResponse:
        early = service.intake.check_key(caller, idempotency_key)
        if early is not None:
            return respond(early)
        try:
            body = await read_body(request, service.intake.max_bytes)
        except ClientDisconnect:
            return respond(error(400, "disconnected", "the client went away"))

        def deliver() -> Reply:
            reply = service.intake.submit(caller, idempotency_key, body)
            if reply.stored:
                keep_audit_head(service.database, caller, audit_head, service.config.clock)
            return reply

        return respond(await run_in_threadpool(deliver))

    @app.get("/v1/transactions/{tcn}")
    def get_transaction(
        tcn: str,
        caller: Station,
        audit_head: Annotated[str | None, Header(alias=AUDIT_HEAD_HEADER)] = None,
    ) -> JSONResponse:
        view = service.transaction(caller, tcn)
        if view is None:
            return respond(error(404, "not_found", f"no such transaction of ORI {caller.ori}"))
        keep_audit_head(service.database, caller, audit_head, service.config.clock)
        return JSONResponse(view)

    @app.put("/v1/audit-head")
    def report_audit_head(
        caller: Station,
        audit_head: Annotated[str | None, Header(alias=AUDIT_HEAD_HEADER)] = None,
    ) -> Response:
        if audit_head is None:
            return respond(
                error(400, "no_audit_head", f"send the audit head in the {AUDIT_HEAD_HEADER} header")
            )
        try:
            head = AuditHead.parse(audit_head)
        except MalformedAuditHead as exc:
            return respond(error(400, "malformed_audit_head", str(exc)))
        keep_parsed_head(service.database, caller, head, service.config.clock)
        return Response(status_code=204)

    @app.get("/v1/notifications")
    def list_notifications(
        _: Operator,
        status: Annotated[str | None, Query(pattern=f"^({PENDING}|{DELIVERED}|{FAILED})$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        notices = service.recent_notifications(status, limit)
        return {"notifications": [notice.as_dict() for notice in notices]}

    return app
