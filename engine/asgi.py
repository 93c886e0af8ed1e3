"""The uvicorn entry point: ``uvicorn --factory engine.asgi:app``; each worker builds its app."""

from __future__ import annotations

from starlette.applications import Starlette

from engine.api.app import create_app
from engine.settings import Settings


def app() -> Starlette:
    return create_app(Settings.from_env())
