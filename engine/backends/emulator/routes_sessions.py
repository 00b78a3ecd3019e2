"""Session routes: create, list, get and end (the limits are enforced where jobs are created)."""

from __future__ import annotations


from aiohttp import web

from .base import EmulatorBase
from .payload import PayloadError
from .replies import error as _error, not_found, request_json
from .sessions import ORGANIZATION_ID, EmuSession


class SessionRoutes(EmulatorBase):
    def _session(self, request: web.Request) -> EmuSession | None:
        return self.sessions.sessions.get(request.match_info["session_id"])

    async def create_session(self, request: web.Request) -> web.Response:
        try:
            body = request_json(await request.read())
        except ValueError as e:
            return _error(400, f"the request body is not valid JSON: {e}")
        try:
            s = self.sessions.create(body)
        except PayloadError as e:
            return _error(400, e.message, e.keys)
        return web.json_response(self.sessions.render(s), status=201)

    async def list_sessions(self, request: web.Request) -> web.Response:
        active = request.query.get("active")
        if active is not None and active.lower() not in ("true", "false"):
            return _error(400, '"active" must be a boolean', ("active",), "params")
        after = request.query.get("next")
        if after is not None and after not in self.sessions.sessions:  # every session is on the one page there is
            return _error(400, f'"next" is not a session id of a previous page, got {after[:40]!r}', ("next",),
                          "params")
        items = [self.sessions.render(s) for s in reversed(list(self.sessions.sessions.values()))]
        if active is not None:
            items = [i for i in items if i["active"] == (active.lower() == "true")]
        return web.json_response({"organization_id": ORGANIZATION_ID, "sessions": items})

    async def get_session(self, request: web.Request) -> web.Response:
        s = self._session(request)
        return not_found() if s is None else web.json_response(self.sessions.render(s))

    async def end_session(self, request: web.Request) -> web.Response:
        s = self._session(request)
        if s is None:
            return not_found()
        self.sessions.end(s)
        return web.json_response(self.sessions.render(s))
