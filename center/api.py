"""The HTTP API the tablets' agents call (DESIGN.md section 4), and the app.

POST /api/v1/votes                        a bounded batch; one answer per record
POST /api/v1/integration/evaluations      the same, from the 互联网+政务服务 platform
POST /api/v1/devices/{device_id}/heartbeat
GET  /api/v1/bundle                       what the device's tablet should know (If-None-Match: 304)
GET  /api/v1/health
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
import threading
import weakref
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hallcore.bundle import PINNABLE

from . import casework, flagwork, queries, upstreamwork
from .httpcache import etag_matches
from .ingest import TokenChanged, ingest, ingest_from, unstorable
from .integration import IntegrationSender, client_for_token
from .service import Center

log = logging.getLogger("center.api")

# A batch is 4 levels deep ({"votes": [{"reasons": [...]}]}); anything much
# deeper is no record, and refusing it here keeps every later step (repr,
# json.dumps, the database driver) far from Python's recursion limit.
MAX_JSON_DEPTH = 64
QUARANTINED_ID = 64          # a record id is 36 characters


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str):
        self.status, self.error, self.detail = status, error, detail


class VotesIn(BaseModel):
    model_config = ConfigDict(strict=True)
    device_id: str = Field(min_length=1, max_length=64)
    votes: list[Any] = Field(description="schema-1 or schema-2 records (DESIGN.md section 3); "
                                         "each is validated on its own")


class EvaluationsIn(BaseModel):
    model_config = ConfigDict(strict=True)
    hall_id: str = Field(min_length=1, max_length=64, description="the hall the client is enrolled for")
    evaluations: list[Any] = Field(description="schema-1 records (DESIGN.md section 3) with device_id "
                                               "'integration:<name>', the client's own seq and an "
                                               "integration channel; each is validated on its own")


class VoteResult(BaseModel):
    id: Any = None
    status: str = Field(description="stored | duplicate | rejected")
    reason: str | None = None


class VotesOut(BaseModel):
    results: list[VoteResult]


class ChainHeadIn(BaseModel):
    """The tablet's chain head: seq and chain hash of the last record its outbox put
    (unknown keys ignored, as in the heartbeat, for agents newer than the center)."""
    model_config = ConfigDict(extra="ignore", strict=True)
    seq: int = Field(ge=0, le=2 ** 53, description="0: nothing put yet")
    hash: str = Field(pattern="^[0-9a-f]{64}$", description="hallcore.chain.chain_hash of that record")


class BundleBeat(BaseModel):
    """The bundle the tablet holds, and why it refused the last one it was sent."""
    model_config = ConfigDict(extra="ignore", strict=True)
    version: str | None = Field(default=None, max_length=64, description="of the last good bundle applied")
    error: str | None = Field(default=None, max_length=1000, description="why the newest bundle was refused")
    refused: int = Field(default=0, ge=0, le=10 ** 12, description="bundles refused since the agent started")


Year = Annotated[str, Field(pattern=r"^[0-9]{4}$")]


class HeartbeatIn(BaseModel):
    """Strict: a number sent as "5" or true is refused, not read as 5 or 1."""
    model_config = ConfigDict(extra="ignore", strict=True)
    pending: int = Field(ge=0, le=10 ** 12)
    oldest_pending: str | None = Field(default=None, max_length=40)
    quarantined: int = Field(default=0, ge=0, le=10 ** 12)
    quarantined_ids: list[Annotated[str, Field(max_length=QUARANTINED_ID)]] | None = Field(
        default=None, max_length=1000)
    last_success: str | None = Field(default=None, max_length=40)
    last_error: str | None = Field(default=None, max_length=2000)
    version: str = Field(default="", max_length=64)
    clock: str = Field(max_length=40, description="the tablet's clock, ISO 8601 with offset")
    clock_problem: str | None = Field(default=None, max_length=300,
                                      description="why the tablet finds its own clock plainly wrong")
    chain_head: ChainHeadIn | None = Field(default=None, description="absent from a schema-1 tablet")
    bundle: BundleBeat | None = None
    # the values are open (a newer tablet may know more), only bounded: a heartbeat is never refused for them
    calendar: dict[Year, Annotated[str, Field(max_length=16)]] | None = Field(
        default=None, max_length=2, description="where the tablet's working days of this year (and, from "
                                                "October, the next) come from: override | official | "
                                                "estimated (unverified)")
    pinned: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=32, description=f"what the tablet's file keeps from the bundle ({', '.join(PINNABLE)})")


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


async def _center(request: Request) -> Center:
    # async: no I/O, so FastAPI runs it inline instead of on a worker thread
    return request.app.state.center


def _bearer(request: Request, what: str) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", f"send Authorization: Bearer <{what}>")
    return token.strip()


UNKNOWN_DEVICE_TOKEN = "unknown device token; enroll the device with hall-center add-device"


def bearer_device(request: Request, center: Annotated[Center, Depends(_center)]) -> str:
    """The device whose token is presented; 401 otherwise. Reads no body."""
    device = center.device_for_token(_bearer(request, "device token"))
    if device is None:
        raise ApiError(401, "unauthorized", UNKNOWN_DEVICE_TOKEN)
    return device


Device = Annotated[str, Depends(bearer_device)]


async def bearer_tablet(request: Request, center: Annotated[Center, Depends(_center)]) -> tuple[str, str]:
    """bearer_device for POST /votes: (device, token hash), the token found in a
    lookup up to a few seconds old; ingest checks the hash again under the
    device's lock (TokenChanged: 401), so a rotated token stores nothing.
    async: a token seen lately costs no worker thread, a lookup runs on one."""
    token = _bearer(request, "device token")
    found = center.token_seen(token) or await run_in_threadpool(center.device_for_token_checked_later, token)
    if found is None:
        raise ApiError(401, "unauthorized", UNKNOWN_DEVICE_TOKEN)
    return found


Tablet = Annotated[tuple[str, str], Depends(bearer_tablet)]


def bearer_integration(request: Request, center: Annotated[Center, Depends(_center)]) -> IntegrationSender:
    """The integration client whose token is presented; 401 otherwise. Reads no body."""
    client = client_for_token(center, _bearer(request, "integration token"))
    if client is None:
        raise ApiError(401, "unauthorized", "unknown integration token; enroll the client with "
                                            "hall-center add-integration")
    return IntegrationSender(*client)


Integration = Annotated[IntegrationSender, Depends(bearer_integration)]


def _same_device(token_device: str, device_id: str) -> None:
    if token_device != device_id:
        raise ApiError(403, "forbidden", f"this token belongs to another device, not {device_id!r}")


def _number(digits: str) -> int | float:
    """A JSON integer; one too long for Python to read (over 4300 digits)
    reads as infinity, which no field accepts, so only its record is rejected."""
    return int(digits) if len(digits) <= sys.get_int_max_str_digits() else float("inf")


# The smallest float orjson makes of an integer it cannot keep (beyond 64 bits).
_BEYOND_64_BITS = float(2 ** 63)


def _shape(data: Any, limit: int) -> str | None:
    """One walk over parsed JSON: "deep" if nested deeper than `limit`,
    "beyond64" if it holds a float of 2**63 or more in size (how orjson
    reads an integer too long for 64 bits), else None."""
    level, depth, beyond = [data], 1, False
    while level:
        if depth > limit:
            return "deep"
        inner = []
        for value in level:
            for child in (value.values() if type(value) is dict else value):
                t = type(child)
                if t is dict or t is list:
                    inner.append(child)
                elif t is float and not beyond and abs(child) >= _BEYOND_64_BITS:
                    beyond = True
        level, depth = inner, depth + 1
    return "beyond64" if beyond else None


def parse_json(raw: bytes) -> Any:
    """The body as JSON (UTF-8, RFC 8259), or ApiError 422 naming why not.

    orjson first (a batch of 100 records in a third of the time); whatever it
    refuses (not UTF-8, NaN, a lone surrogate, too deep, not JSON) the
    standard reader reads or explains, as it always did, and so it reads a
    body in which orjson made a float of an integer beyond 64 bits (the
    standard reader keeps it an int, and the record is refused naming it)."""
    data, shape = _UNREAD, None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        shape = _shape([data], MAX_JSON_DEPTH + 1)      # in a list: a bare number is looked at too
    if data is _UNREAD or shape == "beyond64":
        data = _standard_json(raw)
        shape = _shape([data], MAX_JSON_DEPTH + 1)
    if data is None or shape == "deep":
        raise ApiError(422, "invalid_request", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


_UNREAD = object()


def _standard_json(raw: bytes) -> Any:
    """The standard reader, its errors as ApiError 422; None if nested past Python's recursion limit."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(422, "invalid_request", f"the body is not UTF-8 (bad byte at offset {e.start}); "
                                               f"send UTF-8 JSON") from None
    try:
        try:
            data = json.loads(text)
        except ValueError as e:
            if "integer string conversion" not in str(e):     # Python's 4300-digit limit
                raise
            data = json.loads(text, parse_int=_number)      # the slow reader only when needed
    except RecursionError:
        data = None
    except ValueError as e:                     # json.JSONDecodeError
        raise ApiError(422, "invalid_request", f"the body is not JSON: {e}"[:500]) from None
    return data


def _explain(errors) -> str:
    parts = [f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg')}" for e in errors]
    return "; ".join(parts)[:2000]


def _read(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ApiError(422, "invalid_request", _explain(e.errors())) from None


# The body is read only once the token is known good: an unauthenticated
# client gets its 401 without the server parsing anything it sent.
async def votes_body(request: Request, _tablet: Tablet) -> VotesIn:
    return _read(VotesIn, parse_json(await request.body()))


async def evaluations_body(request: Request, client: Integration) -> EvaluationsIn:
    batch = _read(EvaluationsIn, parse_json(await request.body()))
    if batch.hall_id != client.hall_id:
        raise ApiError(403, "forbidden", f"integration client {client.name!r} is enrolled for hall "
                                         f"{client.hall_id!r}, not {batch.hall_id!r}")
    return batch


async def heartbeat_body(request: Request, device_id: str, device: Device) -> HeartbeatIn:
    _same_device(device, device_id)      # the path names the device: refused before reading the body
    return _read(HeartbeatIn, parse_json(await request.body()))


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a model read by a dependency, not by FastAPI."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": ErrorOut},
          422: {"model": ErrorOut}}

router = APIRouter(prefix="/api/v1")


async def _writing(request: Request, fn, *args) -> Any:
    """fn(*args) (a batch's write) on a worker thread, at most `[center]
    ingest_at_once` of them at a time in this instance: the others wait here
    on the event loop, holding no thread. Two at a time keep a small machine
    busy (one computes while the other waits for PostgreSQL); more only make
    Python's threads take turns at the interpreter lock, at a cost of its own.

    One limiter per event loop (uvicorn runs one per process): a limiter
    waits on its own loop's events, and one app may serve several loops (a
    TestClient per thread), where a shared limiter left a waiter hanging."""
    state = request.app.state
    loop = asyncio.get_running_loop()
    with state.ingest_limiters_lock:
        limiter = state.ingest_limiters.get(loop)
        if limiter is None:
            limiter = state.ingest_limiters[loop] = anyio.CapacityLimiter(state.center.cfg.ingest_at_once)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


@router.post("/votes", response_model=VotesOut, response_model_exclude_unset=True, responses=ERRORS,
             openapi_extra=_body_schema(VotesIn))
async def post_votes(request: Request, tablet: Tablet, batch: Annotated[VotesIn, Depends(votes_body)],
                     center: Annotated[Center, Depends(_center)]):
    """Store a batch of records; each id answers stored, duplicate or rejected (why)."""
    device, digest = tablet
    _same_device(device, batch.device_id)
    if len(batch.votes) > center.cfg.max_batch:
        raise ApiError(413, "batch_too_large",
                       f"{len(batch.votes)} records in one batch; at most {center.cfg.max_batch}")
    try:
        return _answers(await _writing(request, partial(ingest, center, batch.device_id, batch.votes,
                                                        token_hash=digest)))
    except TokenChanged:
        raise ApiError(401, "unauthorized", UNKNOWN_DEVICE_TOKEN) from None


@router.post("/integration/evaluations", response_model=VotesOut, response_model_exclude_unset=True,
             responses=ERRORS, openapi_extra=_body_schema(EvaluationsIn))
async def post_evaluations(request: Request, client: Integration,
                           batch: Annotated[EvaluationsIn, Depends(evaluations_body)],
                           center: Annotated[Center, Depends(_center)]):
    """Store the platform's evaluations; each id answers stored, duplicate or rejected (why)."""
    if len(batch.evaluations) > center.cfg.max_batch:
        raise ApiError(413, "batch_too_large",
                       f"{len(batch.evaluations)} records in one batch; at most {center.cfg.max_batch}")
    return _answers(await _writing(request, ingest_from, center, client, batch.evaluations))


def _answers(results: list[dict[str, Any]]) -> JSONResponse:
    """A batch's answers (VotesOut) as ingest made them, sent as they are:
    validating a hundred of them again through the response model, on a
    worker thread of its own, cost more than the rest of the answer. orjson
    writes them (the standard encoder, as JSONResponse, for an integer id
    orjson cannot hold)."""
    try:
        return Response(orjson.dumps({"results": results}), media_type="application/json")
    except TypeError:
        return JSONResponse({"results": results})


@router.post("/devices/{device_id}/heartbeat", response_model=HeartbeatOut, responses=ERRORS,
             openapi_extra=_body_schema(HeartbeatIn))
def post_heartbeat(device_id: str, beat: Annotated[HeartbeatIn, Depends(heartbeat_body)],
                   center: Annotated[Center, Depends(_center)]):
    """The tablet's outbox depth, quarantine and clock."""
    data = beat.model_dump()
    if unstorable(data):
        raise ApiError(422, "invalid_request", "a text field contains U+0000 or a lone surrogate, "
                                               "which cannot be stored")
    return center.heartbeat(device_id, data)


BUNDLE_HEADERS = {"Cache-Control": "private, no-cache"}


@router.get("/bundle", responses={**ERRORS, 304: {"description": "unchanged: the If-None-Match tag is current"}})
def get_bundle(request: Request, device: Device, center: Annotated[Center, Depends(_center)]):
    """The bundle for the device's window (DESIGN.md §4.9); ETag is its sha256."""
    with center.engine.connect() as conn:
        row = queries.device(conn, device)
        if row is None:          # gone between the token check and here
            raise ApiError(401, "unauthorized", UNKNOWN_DEVICE_TOKEN)
        built = center.bundles.latest(conn, row.hall_id, row.window_id)
    headers = {"ETag": built.etag, **BUNDLE_HEADERS}
    if etag_matches(request.headers.get("if-none-match"), built.etag):
        return Response(status_code=304, headers=headers)
    return Response(built.body, media_type="application/json", headers=headers)


@router.get("/health")
def health():
    return {"ok": True}


_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed"}


def _add_error_handlers(app: FastAPI) -> None:
    """Every answer under /api/ is {"error", "detail"} (DESIGN.md section 4.4), whatever failed."""

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.error, "detail": exc.detail}, exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError):
        return JSONResponse({"error": "invalid_request", "detail": _explain(exc.errors())}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if not request.url.path.startswith("/api/"):
            return await http_exception_handler(request, exc)
        error = _HTTP_ERRORS.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return JSONResponse({"error": error, "detail": f"{request.method} {request.url.path}: {detail}"},
                            exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        error_id = secrets.token_hex(6)
        log.error("unexpected error %s answering %s %s", error_id, request.method, request.url.path,
                  exc_info=exc)
        if not request.url.path.startswith("/api/"):
            return PlainTextResponse(f"Internal Server Error (error {error_id})", 500)
        return JSONResponse({"error": "internal_error",
                             "detail": f"error {error_id}, in the center's log; retry later"}, 500)


def create_app(center: Center, *, worker: bool = False) -> FastAPI:
    """The whole center app: API, dashboard, and (with worker=True) the
    background deadline/alert loop (which also runs the anomaly flag scan)
    and the provincial forwarder."""
    stop = threading.Event()

    def loop():
        while not stop.wait(center.cfg.alerts.tick_s):
            try:
                casework.tick(center)
            except Exception:  # noqa: BLE001 - keep the worker alive, log the cause
                log.exception("deadline/alert round failed; will retry")
            flagwork.scan_when_due(center)      # anomaly flags, every [anomalies] scan_every_s

    @asynccontextmanager
    async def lifespan(_app):
        threads = []
        if worker:
            t = threading.Thread(target=loop, name="center-worker", daemon=True)
            t.start()
            threads.append(t)
            # the provincial push on a thread of its own: a slow province never delays the round above
            threads.append(upstreamwork.start(center, stop))
        yield
        stop.set()
        for t in threads:
            if t:
                t.join(timeout=10)

    # No /docs or /redoc: their pages run inline script from a CDN, which the
    # Content-Security-Policy refuses; /openapi.json describes the API.
    app = FastAPI(title="hall-center", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="County service center: receives hall tablets' evaluation records")
    app.state.center = center
    app.state.ingest_limiters = weakref.WeakKeyDictionary()    # event loop -> its CapacityLimiter (_writing)
    app.state.ingest_limiters_lock = threading.Lock()
    _add_error_handlers(app)
    app.include_router(router)

    from .web import SecurityHeaders, mount_dashboard
    mount_dashboard(app, center)
    app.add_middleware(BodyLimit, max_bytes=center.cfg.max_body_bytes)
    app.add_middleware(SecurityHeaders)          # last added = outermost: on every answer
    return app
