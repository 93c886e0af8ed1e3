"""What each part brings to the assembled product: its HTTP endpoints and its tables."""

from __future__ import annotations

import clinic_sim.api
import notifier.api
import notifier.callbacks
import ticketing.api
from engine.api.endpoint import Endpoint
from engine.api.endpoints import ENDPOINTS as ENGINE_ENDPOINTS
from engine.runtime import Schema
from notifier.store_postgres import init_schema as init_sms_schema
from ticketing.records_postgres import init_schema as init_print_schema

ENDPOINTS: list[Endpoint] = [
    *ENGINE_ENDPOINTS,
    *ticketing.api.ENDPOINTS,
    *notifier.api.ENDPOINTS,
    *notifier.callbacks.ENDPOINTS,
    *clinic_sim.api.ENDPOINTS,
]

# The parts' tables, created with the engine's whenever a process opens it.
SCHEMAS: list[Schema] = [init_sms_schema, init_print_schema]
