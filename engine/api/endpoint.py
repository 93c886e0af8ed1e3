"""One declaration per HTTP endpoint: the route, the role check, the body and the OpenAPI entry
are all built from it, so they cannot drift apart.

A handler receives a ``Call``: the request already authenticated (for the declared roles) and its
body already read and decoded (for the declared body type), bounded by the body limit.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.api.handlers import authenticate, engine_of, idempotency, read_json
from engine.auth import Principal
from engine.clinic import Clinic
from engine.service import Engine

PUBLIC: tuple[str, ...] = ()  # no token: the patient's status page, probes
PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True, slots=True)
class Query:
    """A query parameter, for the document: its name, JSON schema and meaning."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass(slots=True)
class Call:
    """One request as a handler sees it."""

    request: Request
    who: Principal | None
    body: Any
    raw: bytes

    @property
    def engine(self) -> Engine:
        return engine_of(self.request)

    @property
    def params(self) -> dict[str, Any]:
        return self.request.path_params

    @property
    def clinic_id(self) -> str:
        clinic: str = self.request.path_params["clinic"]
        return clinic

    @property
    def principal(self) -> Principal:
        assert self.who is not None, "a public endpoint has no principal"
        return self.who

    async def clinic(self) -> Clinic:
        return await self.engine.clinic(self.clinic_id)

    def idempotency(self) -> tuple[str, str]:
        """The Idempotency-Key scoped to this token, and the request's fingerprint."""
        return idempotency(self.request, self.principal, self.raw)


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint: ``roles`` may call it (admin always may; ``PUBLIC`` needs no token);
    ``body`` is the msgspec type its JSON body decodes to (None: no body is read); ``answer``
    the type of its success body, for the document (None: not described)."""

    method: str
    path: str
    summary: str
    handler: Handler
    roles: tuple[str, ...]
    body: Any = None
    answer: Any = None
    status: int = 200
    query: Sequence[Query] = ()
    # Statuses other than the success one that this endpoint answers with, by design.
    errors: tuple[int, ...] = ()
    # The answer is not JSON (metrics' text, a page).
    media_type: str = "application/json"
    # Its roles can't be stated per endpoint (a handler that checks them itself): for the
    # document only.
    roles_note: str = ""
    middleware: Sequence[Middleware] = field(default=())
    documented: bool = True

    @property
    def public(self) -> bool:
        return not self.roles

    @property
    def path_params(self) -> list[str]:
        return PARAM.findall(self.path)

    def route(self) -> Route:
        async def endpoint(request: Request) -> Response:
            who = None
            if self.roles:
                who = await authenticate(request)
                clinic = request.path_params.get("clinic")
                if clinic is not None:
                    who.require(clinic, *self.roles)
                else:
                    who.require_role(*self.roles)
            body, raw = (None, b"")
            if self.body is not None:
                body, raw = await read_json(request, self.body)
            return await self.handler(Call(request, who, body, raw))

        endpoint.__name__ = self.handler.__name__
        return Route(
            self.path, endpoint, methods=[self.method], middleware=list(self.middleware) or None
        )


def routes(endpoints: Sequence[Endpoint]) -> list[Route]:
    return [e.route() for e in endpoints]
