"""``/openapi.json``, built from the routes and the msgspec body types, and a docs page."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from clinicq.parts import ENDPOINTS
from engine.api.endpoint import PARAM, Endpoint, Query

ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
}

STATUS_TEXT = {400: "malformed request", 401: "no or unknown token", 403: "not for this token",
               404: "not found", 409: "conflicts with the current state", 413: "body too large",
               422: "invalid body or parameters", 429: "too many requests",
               503: "a store is unavailable; retry"}  # fmt: skip


def declared() -> list[Endpoint]:
    return [e for e in ENDPOINTS if e.documented]


@cache
def spec_json() -> bytes:
    """The document as served: built once a process (the declarations do not change)."""
    return msgspec.json.encode(spec())


def spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document, built from the endpoints' declarations."""
    endpoints = declared()
    types = [t for e in endpoints for t in (e.body, e.answer) if t is not None]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    found = iter(schemas)
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        body = next(found) if e.body is not None else None
        answer = next(found) if e.answer is not None else None
        paths.setdefault(_plain(e.path), {})[e.method.lower()] = _operation(e, body, answer)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Clinic Queue", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(e: Endpoint, body: Any, answer: Any) -> dict[str, Any]:
    who = "no token" if e.public else ", ".join(e.roles) + " (or admin)"
    note = f"; {e.roles_note}" if e.roles_note else ""
    content: dict[str, Any] = {e.media_type: {"schema": answer} if answer else {}}
    op: dict[str, Any] = {
        "summary": e.summary,
        "operationId": f"{e.method.lower()}_{e.handler.__name__}",
        "description": f"Who: {who}{note}."
        + (" Writes accept an `Idempotency-Key` header." if e.body is not None else ""),
        "parameters": [_path_param(name) for name in e.path_params]
        + [_query_param(q) for q in e.query],
        "responses": {
            str(e.status): {"description": "success", "content": content},
            **{
                str(code): _error(STATUS_TEXT.get(code, "an error"))
                if code >= 400
                else {"description": "success, as before", "content": content}
                for code in e.errors
            },
        },
    }
    if body is not None:
        op["requestBody"] = {
            "required": _required(e.body),
            "content": {"application/json": {"schema": body}},
        }
    if not e.public:
        op["security"] = [{"bearer": []}]
    return op


def _required(body_type: Any) -> bool:
    """A body is required when its type has a field without a default."""
    info = msgspec.inspect.type_info(body_type)
    return any(f.required for f in getattr(info, "fields", ()))


def _query_param(q: Query) -> dict[str, Any]:
    return {"name": q.name, "in": "query", "required": q.required, "schema": q.schema,
            "description": q.description}  # fmt: skip


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": ERROR}}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _plain(path: str) -> str:
    """``{relative_id:int}`` as OpenAPI writes it: ``{relative_id}``."""
    return PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


@cache
def docs_html() -> str:
    listed = [(e.method, e.path, e.summary, ", ".join(e.roles) or "no token") for e in declared()]
    rows = "\n".join(
        f"<tr><td><code>{m}</code></td><td><code>{p}</code></td><td>{s}</td><td>{roles}</td></tr>"
        for m, p, s, roles in listed
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Clinic Queue API</title><style>
body{{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:70rem}}
td{{padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}}
</style></head><body><h1>Clinic Queue API</h1>
<p>JSON over HTTP. Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>. Errors are
<code>{{"error": {{"code": "...", "message": "..."}}}}</code>. The machine-readable description is
<a href="/openapi.json">/openapi.json</a>.</p>
<table><tr><th>Method</th><th>Path</th><th>What</th><th>Who</th></tr>{rows}</table></body></html>"""
