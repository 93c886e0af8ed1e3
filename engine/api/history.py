"""``GET /api/v1/clinics/{clinic}/history``: the department head's last hours, from the journal.

Declared in ``engine.api.endpoints``. Decoding and folding a day of events is CPU work of a few
milliseconds to a few tens: it runs in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engine.api.endpoint import Call, Query
from engine.api.http import JSON
from engine.errors import ValidationFailed
from engine.history import BUCKET_MINUTES, MAX_HOURS, History, history, window
from engine.history_postgres import bodies_since
from engine.model.clock import day_bounds
from engine.model.events import decode_event

DEFAULT_HOURS = 4
DEFAULT_BUCKET = 15

QUERY = [
    Query("hours", {"type": "integer", "minimum": 1, "maximum": MAX_HOURS, "default": DEFAULT_HOURS},
          "how many hours back, up to now"),
    Query("bucket", {"type": "integer", "enum": list(BUCKET_MINUTES), "default": DEFAULT_BUCKET},
          "minutes per bucket"),
]  # fmt: skip


def _number(call: Call, name: str, default: int, allowed: range | tuple[int, ...]) -> int:
    raw = call.request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value not in allowed:
        shown = f"1-{MAX_HOURS}" if isinstance(allowed, range) else ", ".join(map(str, allowed))
        raise ValidationFailed(f"{name} must be one of {shown}")
    return value


async def get_history(call: Call) -> Response:
    clinic = await call.clinic()
    hours = _number(call, "hours", DEFAULT_HOURS, range(1, MAX_HOURS + 1))
    bucket = _number(call, "bucket", DEFAULT_BUCKET, BUCKET_MINUTES)
    start, end = window(call.engine.clock(), hours, bucket)
    # From the local midnight before the window: every ticket waiting at its start is known.
    since, _ = day_bounds(start, clinic.timezone)
    bodies = await bodies_since(call.engine.pool, call.clinic_id, since)

    def fold() -> History:
        events = [decode_event(b) for b in bodies]
        return history(clinic, events, start=start, end=end, bucket_minutes=bucket)

    return JSON(await run_in_threadpool(fold))
