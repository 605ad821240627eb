"""The HTTP API the tablets' agents call (DESIGN.md section 4), and the app.

POST /api/v1/votes                        a bounded batch; one answer per record
POST /api/v1/devices/{device_id}/heartbeat
GET  /api/v1/health
"""
from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from . import casework
from .ingest import unstorable, ingest
from .service import Center

log = logging.getLogger("center.api")


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str):
        self.status, self.error, self.detail = status, error, detail


class VotesIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=64)
    votes: list[Any] = Field(description="schema-1 records (DESIGN.md section 3); "
                                         "each is validated on its own")


class VoteResult(BaseModel):
    id: Any = None
    status: str = Field(description="stored | duplicate | rejected")
    reason: str | None = None


class VotesOut(BaseModel):
    results: list[VoteResult]


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    pending: int = Field(ge=0, le=10 ** 12)
    oldest_pending: str | None = Field(default=None, max_length=40)
    quarantined: int = Field(default=0, ge=0, le=10 ** 12)
    quarantined_ids: list[str] | None = Field(default=None, max_length=1000)
    last_success: str | None = Field(default=None, max_length=40)
    last_error: str | None = Field(default=None, max_length=2000)
    version: str = Field(default="", max_length=64)
    clock: str = Field(max_length=40, description="the tablet's clock, ISO 8601 with offset")


class HeartbeatOut(BaseModel):
    ok: bool
    server_time: str
    clock_skew_s: int | None
    clock_skew_flagged: bool


class ErrorOut(BaseModel):
    error: str
    detail: str


class BodyLimit:
    """Refuse a request body over the limit with 413 before parsing it."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > self.max_bytes:
                return await self._refuse(send)
        seen = 0
        too_big = False

        async def counted():
            nonlocal seen, too_big
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return msg

        started = False

        async def guarded_send(msg):
            nonlocal started
            if too_big and not started:
                started = True
                return await self._refuse(send)
            if not too_big:
                await send(msg)

        await self.app(scope, counted, guarded_send)

    async def _refuse(self, send):
        body = (f'{{"error":"body_too_large","detail":"request body over {self.max_bytes} bytes; '
                f'send smaller batches"}}').encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _bearer_device(request: Request) -> str:
    center: Center = request.app.state.center
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <device token>")
    device = center.device_for_token(token.strip())
    if device is None:
        raise ApiError(401, "unauthorized", "unknown device token; enroll the device with "
                                            "hall-center add-device")
    return device


def _same_device(token_device: str, device_id: str) -> None:
    if token_device != device_id:
        raise ApiError(403, "forbidden", f"this token belongs to another device, not {device_id!r}")


ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": ErrorOut},
          422: {"model": ErrorOut}}


def create_app(center: Center, *, worker: bool = False) -> FastAPI:
    """The whole center app: API, dashboard, and (with worker=True) the
    background deadline/alert loop."""
    stop = threading.Event()

    def loop():
        while not stop.wait(center.cfg.alerts.tick_s):
            try:
                casework.tick(center)
            except Exception:  # noqa: BLE001 - keep the worker alive, log the cause
                log.exception("deadline/alert round failed; will retry")

    @asynccontextmanager
    async def lifespan(_app):
        t = None
        if worker:
            t = threading.Thread(target=loop, name="center-worker", daemon=True)
            t.start()
        yield
        stop.set()
        if t:
            t.join(timeout=10)

    # No /docs or /redoc: their pages run inline script from a CDN, which the
    # Content-Security-Policy refuses; /openapi.json describes the API.
    app = FastAPI(title="hall-center", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="County service center: receives hall tablets' evaluation records")
    app.state.center = center

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.error, "detail": exc.detail}, exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError):
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
        return JSONResponse({"error": "invalid_request", "detail": "; ".join(parts)[:2000]}, 422)

    @app.post("/api/v1/votes", response_model=VotesOut, response_model_exclude_unset=True,
              responses=ERRORS)
    def post_votes(batch: VotesIn, device: str = Depends(_bearer_device)):
        """Store a batch of records; each id answers stored, duplicate or rejected (why)."""
        _same_device(device, batch.device_id)
        if len(batch.votes) > center.cfg.max_batch:
            raise ApiError(413, "batch_too_large",
                           f"{len(batch.votes)} records in one batch; at most {center.cfg.max_batch}")
        return {"results": ingest(center, batch.device_id, batch.votes)}

    @app.post("/api/v1/devices/{device_id}/heartbeat", response_model=HeartbeatOut, responses=ERRORS)
    def post_heartbeat(device_id: str, beat: HeartbeatIn, device: str = Depends(_bearer_device)):
        """The tablet's outbox depth, quarantine and clock."""
        _same_device(device, device_id)
        data = beat.model_dump()
        if unstorable(data):
            raise ApiError(422, "invalid_request", "a text field contains U+0000 or a lone surrogate, which cannot be stored")
        return center.heartbeat(device_id, data)

    @app.get("/api/v1/health")
    def health():
        return {"ok": True}

    from .web import SecurityHeaders, mount_dashboard
    mount_dashboard(app, center)
    app.add_middleware(BodyLimit, max_bytes=center.cfg.max_body_bytes)
    app.add_middleware(SecurityHeaders)          # last added = outermost: on every answer
    return app
