"""A loopback HTTP proxy that delivers job-creating POSTs late, as a slow proxy in front of IonQ can.

`LatePostProxy(upstream, delays)` forwards every request to `upstream` unchanged, except that the first
len(delays) `POST .../jobs` requests are held `delays[i]` seconds before being forwarded. The forward is
not tied to the client's connection: a client that timed out and went away still gets its job created
upstream, which is exactly how one needed job became two before the client waited for late requests.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web


class LatePostProxy:
    def __init__(self, upstream: str, delays: list[float]):
        self.upstream = upstream.rstrip("/")
        self.delays = list(delays)
        self.delivered_late = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[tuple[int, bytes, str]]] = set()
        self.base_url = ""

    async def __aenter__(self) -> "LatePostProxy":
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        prefix = "/" + self.upstream.split("/", 3)[3] if self.upstream.count("/") >= 3 else ""
        self.base_url = f"http://127.0.0.1:{port}{prefix}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()
        assert self._runner is not None and self._session is not None
        await self._runner.cleanup()
        await self._session.close()

    async def drain(self) -> None:
        """Wait for every held request to have been delivered upstream."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _forward(self, method: str, url: str, headers: dict[str, str], body: bytes,
                       delay: float) -> tuple[int, bytes, str]:
        if delay:
            await asyncio.sleep(delay)
            self.delivered_late += 1
        assert self._session is not None
        async with self._session.request(method, url, headers=headers, data=body) as resp:
            return resp.status, await resp.read(), resp.headers.get("Content-Type", "application/json")

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        delay = 0.0
        if request.method == "POST" and request.path.rstrip("/").endswith("/jobs") and self.delays:
            delay = self.delays.pop(0)
        origin = self.upstream.split("/", 3)
        url = f"{origin[0]}//{origin[2]}{request.path_qs}"
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        task = asyncio.create_task(self._forward(request.method, url, headers, body, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        status, data, ctype = await asyncio.shield(task)
        return web.Response(status=status, body=data, content_type=ctype.split(";")[0])
