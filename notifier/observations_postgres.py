"""Vital-sign observations, stored as JSON per measurement."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from notifier.patients_postgres import PatientLookup
from notifier.vitals import Dynamics, Observation


def obs_to_json(obs: Observation) -> str:
    vals: dict[str, Any] = {}
    for name in (
        "temperature",
        "pulse",
        "spo2",
        "heart_rate",
        "respiratory_rate",
        "conscious",
        "ventilator",
    ):
        value = getattr(obs, name)
        if value is not None:
            vals[name] = value
    if obs.blood_pressure is not None:
        vals["blood_pressure"] = list(obs.blood_pressure)
    if obs.dynamics is not None:
        vals["dynamics"] = obs.dynamics.value
    return json.dumps(vals)


def obs_from_row(measured_at: datetime, vals: str) -> Observation:
    data = json.loads(vals)
    bp = data.pop("blood_pressure", None)
    dyn = data.pop("dynamics", None)
    return Observation(
        measured_at=measured_at,
        blood_pressure=tuple(bp) if bp else None,
        dynamics=Dynamics(dyn) if dyn else None,
        **data,
    )


class ObservationStore(PatientLookup):
    """A patient's observations."""

    async def add_observation(
        self, patient_id: str, obs: Observation, *, clinic: str, by: str, now: datetime
    ) -> int:
        await self.get_patient(patient_id, clinic)
        return int(
            await self.pool.fetchval(
                "INSERT INTO sms_observations (patient_id, measured_at, recorded_by, recorded_at,"
                " vals) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id",
                patient_id,
                obs.measured_at,
                by,
                now,
                obs_to_json(obs),
            )
        )

    async def observations(self, patient_id: str, limit: int = 200) -> list[Observation]:
        rows = await self.pool.fetch(
            "SELECT measured_at, vals::text AS vals FROM sms_observations WHERE patient_id = $1"
            " ORDER BY measured_at DESC LIMIT $2",
            patient_id,
            limit,
        )
        return [obs_from_row(r["measured_at"], r["vals"]) for r in rows]
