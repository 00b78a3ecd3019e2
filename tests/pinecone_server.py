"""A loopback Pinecone: the REST calls the real `pinecone` SDK (10.x, API 2026-07) makes, on 127.0.0.1.

It exists so PineconeVectorStore is tested through the real SDK and real HTTP, not a mock. The
control plane (list, describe, create index) listens on the URL `start()` returns; as in Pinecone,
each index gets a data-plane host of its own (its own ephemeral port, given as `http://` in the
index's `host`), backed by a SQLiteVectorStore. Every request must carry the server's `Api-Key`
(401 otherwise). Knobs for tests: `fail_next` injects HTTP errors, `request_count` counts calls.

Only what PineconeVectorStore needs is served: vector indexes (one dense field named `_values`),
upsert, query by vector, fetch, delete by ids or all, describe_index_stats. Anything else gets a
400 that says so, never a made-up answer.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from engine.store.base import METRICS, NotFoundError, StoreError, VectorRecord
from engine.store.sqlite_store import SQLiteVectorStore
from engine.store.validate import DEFAULT_NAMESPACE_ALIAS

_INDEX_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?$")
_DENSE_FIELD = "_values"  # the reserved field name the 2026-07 vectors API serves


class _BadRequest(Exception):
    """A request the loopback server will not serve; becomes a 400 naming the reason."""


def _control_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}, "status": status}, status=status)


def _data_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "details": []}, status=status)


@dataclass
class _Index:
    name: str
    dimension: int
    metric: str
    deployment: dict[str, Any]
    tags: dict[str, str] | None
    store: SQLiteVectorStore
    host: str = ""
    runner: web.AppRunner | None = None

    def model(self) -> dict[str, Any]:
        """The IndexModel JSON the SDK decodes from describe and create."""
        return {
            "name": self.name,
            "host": self.host,
            "status": {"ready": True, "state": "Ready"},
            "schema": {
                "fields": {_DENSE_FIELD: {"type": "dense_vector", "dimension": self.dimension, "metric": self.metric}}
            },
            "deployment": self.deployment,
            "deletion_protection": "disabled",
            "tags": self.tags,
        }


class PineconeLoopbackServer:
    """Pinecone's control and data planes on loopback, in a background thread with its own event loop."""

    def __init__(self, api_key: str, data_dir: str | Path | None = None):
        if not api_key:
            raise StoreError("PineconeLoopbackServer: api_key must be non-empty")
        self._api_key = api_key.encode()
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._indexes: dict[str, _Index] = {}
        self._faults: dict[str, list[int]] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._control: web.AppRunner | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"PineconeLoopbackServer(url={self.url!r}, indexes={sorted(self._indexes)})"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving; returns the control-plane base URL (http://127.0.0.1:PORT)."""
        if self._loop is not None:
            raise StoreError("PineconeLoopbackServer: already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pinecone-loopback", daemon=True)
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self.url

    def stop(self) -> None:
        """Stop every listener, close the stores and end the thread."""
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> PineconeLoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/indexes", self._list_indexes)
        app.router.add_post("/indexes", self._create_index)
        app.router.add_get("/indexes/{name}", self._describe_index)
        self._control = await self._serve(app)
        return f"http://127.0.0.1:{self._control.addresses[0][1]}"

    async def _stop(self) -> None:
        for index in self._indexes.values():
            await index.runner.cleanup()
            index.store.close()
        await self._control.cleanup()

    async def _serve(self, app: web.Application) -> web.AppRunner:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        return runner

    # -- test knobs --------------------------------------------------------------------------

    def fail_next(self, path: str, count: int = 1, status: int = 503) -> None:
        """Answer the next `count` requests to `path` (e.g. "/query") with `status` and Retry-After: 0."""
        with self._lock:
            self._faults.setdefault(path, []).extend([status] * count)

    def request_count(self, path: str) -> int:
        """How many requests reached `path`, failed ones included."""
        with self._lock:
            return self._counts[path]

    def store(self, index_name: str) -> SQLiteVectorStore:
        """The store behind an index, for tests that compare the two."""
        return self._indexes[index_name].store

    # -- middleware: count, inject faults, authenticate, map store errors ----------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self._lock:
            self._counts[request.path] += 1
            queued = self._faults.get(request.path)
            fault = queued.pop(0) if queued else None
        if fault is not None:
            return web.json_response(
                {"error": {"code": "UNAVAILABLE", "message": "injected fault"}, "status": fault},
                status=fault,
                headers={"Retry-After": "0"},
            )
        given = request.headers.get("Api-Key", "").encode()
        if not hmac.compare_digest(given, self._api_key):
            return _control_error(401, "UNAUTHENTICATED", "Invalid API Key")
        try:
            return await handler(request)
        except _BadRequest as exc:
            return _data_error(400, 3, str(exc))
        except NotFoundError as exc:
            return _data_error(404, 5, str(exc))
        except StoreError as exc:
            return _data_error(400, 3, str(exc))

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json() if request.can_read_body else {}
        except json.JSONDecodeError as exc:
            raise _BadRequest(f"request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _BadRequest("request body must be a JSON object")
        return body

    # -- control plane -------------------------------------------------------------------------

    async def _list_indexes(self, request: web.Request) -> web.Response:
        return web.json_response({"indexes": [i.model() for i in self._indexes.values()]})

    async def _describe_index(self, request: web.Request) -> web.Response:
        index = self._indexes.get(request.match_info["name"])
        if index is None:
            return _control_error(404, "NOT_FOUND", f"Resource {request.match_info['name']} not found")
        return web.json_response(index.model())

    async def _create_index(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        name = body.get("name")
        if not isinstance(name, str) or not _INDEX_NAME.match(name):
            raise _BadRequest("name must be 1-45 lowercase letters, digits or hyphens")
        if name in self._indexes:
            return _control_error(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        fields = (body.get("schema") or {}).get("fields")
        dense = fields.get(_DENSE_FIELD) if isinstance(fields, dict) and len(fields) == 1 else None
        if not isinstance(dense, dict) or dense.get("type") != "dense_vector":
            raise _BadRequest(f"only vector indexes are served: schema must be one dense_vector field '{_DENSE_FIELD}'")
        dimension, metric = dense.get("dimension"), dense.get("metric", "cosine")
        if not isinstance(dimension, int) or dimension < 1 or metric not in METRICS:
            raise _BadRequest("schema field '_values' needs a positive integer dimension and a known metric")
        deployment = body.get("deployment") or {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}
        if deployment.get("deployment_type") != "managed":
            raise _BadRequest("only managed (serverless) deployments are served")
        path = ":memory:" if self._data_dir is None else self._data_dir / f"{name}.sqlite"
        store = SQLiteVectorStore(path, dimension, metric)
        index = _Index(name, dimension, metric, deployment, body.get("tags"), store)
        index.runner = await self._serve(self._data_plane(index))
        index.host = f"http://127.0.0.1:{index.runner.addresses[0][1]}"
        self._indexes[name] = index
        return web.json_response(index.model(), status=201)

    # -- data plane ----------------------------------------------------------------------------

    def _data_plane(self, index: _Index) -> web.Application:
        store = index.store

        async def upsert(request: web.Request) -> web.Response:
            body = await self._json(request)
            vectors = body.get("vectors")
            if not isinstance(vectors, list):
                raise _BadRequest("vectors must be a list")
            records = []
            for i, v in enumerate(vectors):
                if not isinstance(v, dict) or "sparseValues" in v:
                    raise _BadRequest(f"vectors[{i}]: must be an object with id, values and metadata (dense only)")
                try:
                    records.append(VectorRecord(v.get("id"), v.get("values"), v.get("metadata") or {}))
                except (TypeError, ValueError) as exc:
                    raise _BadRequest(f"vectors[{i}]: {exc}") from None
            return web.json_response({"upsertedCount": store.upsert(body.get("namespace", ""), records)})

        async def query(request: web.Request) -> web.Response:
            body = await self._json(request)
            if "vector" not in body:
                raise _BadRequest("only query by vector is served (no id or sparse queries)")
            namespace = body.get("namespace", "")
            matches = store.query(
                namespace, body["vector"], body.get("topK"), body.get("filter"), bool(body.get("includeValues"))
            )
            out = []
            for m in matches:
                values = [] if m.values is None else m.values.tolist()
                match: dict[str, Any] = {"id": m.id, "score": m.score, "values": values}
                if body.get("includeMetadata"):
                    match["metadata"] = m.metadata
                out.append(match)
            return web.json_response({"matches": out, "namespace": namespace})

        async def fetch(request: web.Request) -> web.Response:
            namespace = request.query.get("namespace", "")
            found = store.fetch(namespace, request.query.getall("ids", []))
            vectors = {i: {"id": i, "values": r.values.tolist(), "metadata": r.metadata} for i, r in found.items()}
            return web.json_response({"vectors": vectors, "namespace": namespace})

        async def delete(request: web.Request) -> web.Response:
            body = await self._json(request)
            if "filter" in body:
                raise _BadRequest("delete by filter is not served")
            store.delete(body.get("namespace", ""), body.get("ids"), bool(body.get("deleteAll", False)))
            return web.json_response({})

        async def describe_index_stats(request: web.Request) -> web.Response:
            if "filter" in await self._json(request):
                raise _BadRequest("describe_index_stats with a filter is not served")
            stats = store.describe()
            return web.json_response(
                {
                    "namespaces": {
                        ns or DEFAULT_NAMESPACE_ALIAS: {"vectorCount": n} for ns, n in stats.namespaces.items()
                    },
                    "dimension": stats.dimension,
                    "indexFullness": 0.0,
                    "totalVectorCount": stats.total_count,
                    "metric": stats.metric,
                    "vectorType": "dense",
                }
            )

        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/vectors/upsert", upsert)
        app.router.add_post("/query", query)
        app.router.add_get("/vectors/fetch", fetch)
        app.router.add_post("/vectors/delete", delete)
        app.router.add_post("/describe_index_stats", describe_index_stats)
        return app
