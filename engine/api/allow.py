"""Which methods a path takes, across every route that matches it: ``OPTIONS`` answers with
them, and so does the ``Allow`` header of a 405 (Starlette's lists one route's methods only)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route takes at this scope's path, plus OPTIONS; empty if none does."""
    found: set[str] = set()
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.NONE:
            continue
        if isinstance(route, Route) and route.methods:
            found |= route.methods
        elif isinstance(route, Mount):
            found |= {"GET", "HEAD"}  # the static files
    return sorted(found | {"OPTIONS"}) if found else []


class AnswerOptions:
    """``OPTIONS`` on any path: 204 with ``Allow``, or the usual JSON 404 for a path no route
    takes. (Preflights are not answered with CORS headers: the pages are served same-origin.)"""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        methods = allowed_methods(self.routes, scope)
        response: Response
        if methods:
            response = Response(status_code=204, headers={"Allow": ", ".join(methods)})
        else:
            body = {"error": {"code": "route_not_found", "message": "Not Found"}}
            response = JSONResponse(body, status_code=404)
        await response(scope, receive, send)
