"""``/openapi.json``, built from the routes and the msgspec body types, and a docs page."""

from __future__ import annotations

from typing import Any

import msgspec

import clinic_sim.api
import ticketing.api
from engine.api.endpoint import PARAM, Endpoint, Query
from engine.api.endpoints import ENDPOINTS

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

# Parts not yet declared as Endpoints: (method, path, summary, body type, roles, status).
LEGACY: list[tuple[str, str, str, Any, str, int]] = [
    ("post", "/api/v1/clinics/{clinic}/kiosks/{kiosk}/print",
     "Print an issued ticket at the kiosk's printer; answers at once with the job",
     ticketing.api.PrintBody, "kiosk, registrar, head", 202),
    ("get", "/api/v1/clinics/{clinic}/kiosks/{kiosk}/print/{job}",
     "A print job's state; fallback: keep the ticket on screen", None, "kiosk, registrar, head", 200),
    ("post", "/api/v1/clinics/{clinic}/kiosks/{kiosk}/print/{job}/reprint",
     "Print the same ticket again at this kiosk (never a new ticket)", None,
     "kiosk, registrar, head", 202),
    ("get", "/api/v1/clinics/{clinic}/kiosks/{kiosk}/printer", "The kiosk printer's last state",
     None, "kiosk, registrar, head", 200),
    ("get", "/api/v1/clinics/{clinic}/alerts", "Kiosk printers out of paper, offline or gone silent",
     None, "head, registrar", 200),
    ("put", "/api/v1/icu/patients/{patient_id}/status", "ICU: admitted, discharged, transferred, deceased",
     None, "icu_doctor", 200),
    ("post", "/api/v1/icu/patients/{patient_id}/relatives", "ICU: register a relative for the daily SMS",
     None, "icu_doctor", 201),
    ("post", "/api/v1/icu/patients/{patient_id}/observations", "ICU: record the latest values", None,
     "icu_doctor", 201),
    ("get", "/api/v1/icu/patients/{patient_id}/relatives", "ICU: the patient's relatives, phones masked",
     None, "icu_doctor", 200),
    ("post", "/api/v1/icu/patients/{patient_id}/relatives/{relative_id}/revoke",
     "ICU: withdraw a relative's consent", None, "icu_doctor", 200),
    ("get", "/api/v1/icu/patients/{patient_id}/observations", "ICU: the latest values", None,
     "icu_doctor", 200),
    ("get", "/api/v1/icu/alerts", "ICU: failed or stuck messages", None, "icu_doctor", 200),
    ("get", "/api/v1/icu/patients/{patient_id}/messages", "ICU: what was sent to whom, and its status",
     None, "icu_doctor", 200),
]  # fmt: skip

STATUS_TEXT = {400: "malformed request", 401: "no or unknown token", 403: "not for this token",
               404: "not found", 409: "conflicts with the current state", 413: "body too large",
               422: "invalid body or parameters", 429: "too many requests",
               503: "a store is unavailable; retry"}  # fmt: skip


def declared() -> list[Endpoint]:
    return [e for e in (*ENDPOINTS, *clinic_sim.api.ENDPOINTS) if e.documented]


def spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document, built from the endpoints' declarations."""
    endpoints = declared()
    types = [t for e in endpoints for t in (e.body, e.answer) if t is not None]
    types += [op[3] for op in LEGACY if op[3] is not None]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    found = iter(schemas)
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        body = next(found) if e.body is not None else None
        answer = next(found) if e.answer is not None else None
        paths.setdefault(_plain(e.path), {})[e.method.lower()] = _operation(e, body, answer)
    for method, path, summary, body_type, roles, status in LEGACY:
        schema = next(found) if body_type is not None else None
        op: dict[str, Any] = {
            "summary": summary,
            "description": f"Roles: {roles}.",
            "parameters": [_path_param(name) for name in _path_params(path)],
            "responses": {
                str(status): {"description": "success", "content": {"application/json": {}}},
                "default": _error("an error"),
            },
            "security": [{"bearer": []}],
        }
        if schema is not None:
            op["requestBody"] = {"content": {"application/json": {"schema": schema}}}
        paths.setdefault(path, {})[method] = op
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
            **{str(code): _error(STATUS_TEXT.get(code, "an error")) for code in e.errors},
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


def _path_params(path: str) -> list[str]:
    return PARAM.findall(path)


def docs_html() -> str:
    listed = [(e.method, e.path, e.summary, ", ".join(e.roles) or "no token") for e in declared()]
    listed += [(m.upper(), p, s, roles) for m, p, s, _, roles, _ in LEGACY]  # fmt: skip
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
