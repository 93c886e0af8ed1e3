"""``/openapi.json``, built from the routes and the msgspec body types, and a docs page."""

from __future__ import annotations

from typing import Any

import msgspec

import ticketing.api
from engine.api import booking as b
from engine.api import routes as r

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

# (method, path, summary, body type, roles, success status)
OPERATIONS: list[tuple[str, str, str, Any, str, int]] = [
    ("post", "/api/v1/clinics/{clinic}/tickets", "Take a ticket", r.TakeTicket, "kiosk, registrar, head", 201),
    ("get", "/api/v1/clinics/{clinic}/tickets/{ticket}", "A ticket's status (public)", None, "none", 200),
    ("post", "/api/v1/clinics/{clinic}/tickets/{ticket}/{action}",
     "recall, start, suspend, resume, complete, no-show, transfer, cancel", r.TicketActionBody,
     "doctor (own patients), registrar, head", 200),
    ("post", "/api/v1/clinics/{clinic}/cabinets/{cabinet}/call-next", "Call the next patient",
     None, "doctor (own cabinet), head", 200),
    ("put", "/api/v1/clinics/{clinic}/doctors/{doctor}/duty", "Change a doctor's duty live",
     r.DutyBody, "head; doctor (own status only)", 200),
    ("get", "/api/v1/clinics/{clinic}/board", "The snapshot a screen starts from, with its offset",
     None, "any clinic token", 200),
    ("get", "/api/v1/clinics/{clinic}", "The clinic's configuration", None, "any clinic token", 200),
    ("put", "/api/v1/clinics/{clinic}", "Replace the clinic's configuration", None, "admin", 200),
    ("get", "/api/v1/clinics/{clinic}/slots", "Slots of a day (?date=&doctor=&free=)", None,
     "staff, partner", 200),
    ("post", "/api/v1/clinics/{clinic}/slots/{slot}/reservation", "Hold or book a slot",
     b.ReserveBody, "partner, registrar, head", 201),
    ("delete", "/api/v1/clinics/{clinic}/slots/{slot}/reservation", "Cancel the slot's reservation",
     None, "partner (own), registrar, head", 200),
    ("get", "/api/v1/clinics/{clinic}/reservations/{reservation}", "A reservation", None,
     "partner (own), registrar, head, kiosk", 200),
    ("post", "/api/v1/clinics/{clinic}/reservations/{reservation}/{action}",
     "move ({slot}), confirm, cancel, check-in", b.MoveBody, "partner, registrar, head; kiosk for check-in", 200),
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
    ("post", "/api/v1/clinics/{clinic}/what-if",
     "Predict waits under a roster change (simulated from the live board)", None, "head", 200),
    ("put", "/api/v1/icu/patients/{patient_id}/status", "ICU: admitted, discharged, transferred, deceased",
     None, "icu_doctor", 200),
    ("post", "/api/v1/icu/patients/{patient_id}/relatives", "ICU: register a relative for the daily SMS",
     None, "icu_doctor", 201),
    ("post", "/api/v1/icu/patients/{patient_id}/observations", "ICU: record the latest values", None,
     "icu_doctor", 201),
    ("get", "/api/v1/icu/patients/{patient_id}/messages", "ICU: what was sent to whom, and its status",
     None, "icu_doctor", 200),
    ("get", "/healthz", "The process is up", None, "none", 200),
    ("get", "/readyz", "Redis and PostgreSQL reachable, scripts loaded (yes or no)", None, "none", 200),
    ("get", "/metrics", "Prometheus metrics (this host only unless CLINICQ_METRICS says otherwise)", None, "none", 200),
]  # fmt: skip


def spec() -> dict[str, Any]:
    types = [op[3] for op in OPERATIONS if op[3] is not None]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for (method, path, summary, _body, roles, status), schema in zip(
        OPERATIONS, _spread(schemas, OPERATIONS), strict=True
    ):
        op: dict[str, Any] = {
            "summary": summary,
            "description": f"Roles: {roles}. Writes accept an `Idempotency-Key` header.",
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_params(path)
            ],
            "responses": {
                str(status): {"description": "success", "content": {"application/json": {}}},
                "default": {
                    "description": "an error",
                    "content": {"application/json": {"schema": ERROR}},
                },
            },
        }
        if schema is not None:
            op["requestBody"] = {"content": {"application/json": {"schema": schema}}}
        if roles != "none":
            op["security"] = [{"bearer": []}]
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


def _spread(schemas: tuple[Any, ...], ops: list[tuple[str, str, str, Any, str, int]]) -> list[Any]:
    found = iter(schemas)
    return [next(found) if op[3] is not None else None for op in ops]


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def docs_html() -> str:
    rows = "\n".join(
        f"<tr><td><code>{m.upper()}</code></td><td><code>{p}</code></td><td>{s}</td><td>{roles}</td></tr>"
        for m, p, s, _, roles, _ in OPERATIONS
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
