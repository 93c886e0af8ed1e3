"""The uvicorn entry point: ``uvicorn --factory clinicq.asgi:app``; each worker builds its app."""

from __future__ import annotations

from starlette.applications import Starlette

from clinicq.app import create_app
from clinicq.settings import Settings


def app() -> Starlette:
    return create_app(Settings.from_env())
