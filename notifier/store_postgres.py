"""PostgreSQL store for the notifier: ``SmsStore`` joins its parts, one concept a module.

    schema_postgres          the sms_ tables, connection types
    patients_postgres        Patient, the lookup every part guards with
    patient_status_postgres  admission, discharge, transfer, death
    consent_postgres         relatives and consent with history
    observations_postgres    vital signs
    alerts_postgres          alerts, once per (kind, key)
    audit_postgres           what went to whom, and its delivery

The outbox itself lives in ``outbox_postgres``.
"""

from __future__ import annotations

from notifier.alerts_postgres import Alert, AlertStore, add_alert
from notifier.audit_postgres import AuditStore, MessageRecord
from notifier.consent_postgres import ConsentEvent, ConsentStore, Relative
from notifier.observations_postgres import ObservationStore, obs_from_row, obs_to_json
from notifier.patient_status_postgres import PatientStatusStore
from notifier.patients_postgres import Patient
from notifier.schema_postgres import SCHEMA, TABLES, Conn, Executor, init_schema

__all__ = [
    "SCHEMA",
    "TABLES",
    "Alert",
    "Conn",
    "ConsentEvent",
    "Executor",
    "MessageRecord",
    "Patient",
    "Relative",
    "SmsStore",
    "add_alert",
    "init_schema",
    "obs_from_row",
    "obs_to_json",
]


class SmsStore(PatientStatusStore, ConsentStore, ObservationStore, AlertStore, AuditStore):
    """Patients, consent, observations, alerts and audit over an asyncpg pool."""

    async def truncate(self) -> None:
        """Empty the notifier's tables (tests); other tables are left alone."""
        await self.pool.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
