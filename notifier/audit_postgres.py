"""The audit view: what went to whom (masked), when, and how far delivery got."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from notifier.lifecycle import FROM_STORED
from notifier.patients_postgres import PatientLookup


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    relative_id: int
    phone_masked: str
    relation: str
    local_date: date
    state: str
    delivery: str | None
    parts: int | None
    body: str | None
    sent_at: datetime | None
    created_at: datetime
    history: tuple[tuple[str, str, datetime], ...] = field(default=())
    kind: str = "daily"  # or "stop_confirmation": the answer to a relative's STOP


class AuditStore(PatientLookup):
    """The messages sent about a patient."""

    async def messages(self, patient_id: str, *, clinic: str | None = None) -> list[MessageRecord]:
        """Audit: what went to whom (masked), when, and how far delivery got."""
        await self.get_patient(patient_id, clinic)
        rows = await self.pool.fetch(
            """
            SELECT o.*, r.phone_masked, r.relation FROM sms_outbox o
            JOIN sms_relatives r ON r.id = o.relative_id
            WHERE o.patient_id = $1 ORDER BY o.local_date DESC, o.id
            """,
            patient_id,
        )
        history = await self.pool.fetch(
            """
            SELECT h.outbox_id, h.state, h.event, h.at FROM sms_outbox_history h
            JOIN sms_outbox o ON o.id = h.outbox_id WHERE o.patient_id = $1 ORDER BY h.id
            """,
            patient_id,
        )
        return [
            MessageRecord(
                id=r["id"],
                relative_id=r["relative_id"],
                phone_masked=r["phone_masked"],
                relation=r["relation"],
                local_date=r["local_date"],
                state=r["state"],
                delivery=(
                    None
                    if r["delivery_status"] is None
                    else str(FROM_STORED.get(r["delivery_status"], r["delivery_status"]))
                ),
                parts=r["parts"],
                body=r["body"],
                sent_at=r["sent_at"],
                created_at=r["created_at"],
                history=tuple(
                    (h["state"], h["event"], h["at"]) for h in history if h["outbox_id"] == r["id"]
                ),
                kind=r["kind"],
            )
            for r in rows
        ]
