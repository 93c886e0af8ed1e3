"""What-if from a board snapshot: a doctor added to a long queue shortens the predicted wait."""

from __future__ import annotations

from typing import Any

from clinic_sim.whatif import RosterChange, predict


def _board(therapy_waiting: int = 12) -> dict[str, Any]:
    def doctor(
        id_: str, status: str, services: list[str], current: str | None = None
    ) -> dict[str, Any]:
        return {"id": id_, "name": id_.title(), "status": status, "services": services,
                "current": current, "suspended": [], "served": 0, "mean_service_minutes": None}  # fmt: skip

    return {
        "offset": 40,
        "queues": [
            {
                "service": "therapy",
                "name": "Therapy",
                "waiting": therapy_waiting,
                "longest_wait_minutes": 35,
            },
            {"service": "surgery", "name": "Surgery", "waiting": 0, "longest_wait_minutes": 0},
        ],
        "doctors": [
            doctor("ivanova", "on_duty", ["therapy"], current="Т-003"),
            doctor("petrov", "on_duty", ["surgery"]),
            doctor("sidorov", "off", ["therapy"]),
        ],
    }


def test_moving_a_doctor_to_a_long_queue_shortens_the_longest_wait() -> None:
    """Petrov from an empty surgery queue to 12 waiting for therapy: the longest wait falls a lot."""
    p = predict(_board(), RosterChange("petrov", services=("therapy",)), runs=20)
    before, after = p.before.longest_wait_minutes, p.after.longest_wait_minutes
    assert before is not None and after is not None
    assert after < 0.7 * before
    assert p.after.queues[0].doctors == 2 and p.before.queues[0].doctors == 1
    assert p.summary.startswith("move Dr Petrov to Therapy: the longest wait falls from ")


def test_putting_a_doctor_on_duty_shortens_the_wait_too() -> None:
    """A therapist who was off, put on duty, cuts the mean wait of the therapy queue."""
    p = predict(_board(), RosterChange("sidorov", status="on_duty"), runs=20)
    assert (p.after.queues[0].mean_wait_minutes or 0) < (p.before.queues[0].mean_wait_minutes or 0)


def test_taking_the_only_doctor_away_leaves_the_queue_unbounded() -> None:
    """With no doctor left for therapy, the forecast says so instead of inventing a number."""
    p = predict(_board(), RosterChange("ivanova", status="off"), runs=5)
    assert p.after.queues[0].longest_wait_minutes is None
    assert "Therapy (12 waiting) is left with no doctor" in p.summary


def test_same_seed_same_prediction() -> None:
    """A prediction is reproducible: the same board, change and seed give the same numbers."""
    change = RosterChange("petrov", services=("therapy", "surgery"))
    assert (
        predict(_board(), change, seed=3).to_json() == predict(_board(), change, seed=3).to_json()
    )
