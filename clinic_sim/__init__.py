"""A polyclinic day, simulated: waits, doctors' load and the city KPI; what-if; drive mode.

Pure core (no I/O): ``config`` (what a day is made of), ``patients`` (the day's plan),
``model`` (``simulate(config, seed)`` on simpy), ``results``, ``erlang`` (the M/M/c yardstick),
``whatif`` (a board snapshot and a roster change in, two forecasts out).
Edges: ``api`` (the what-if route), ``drive`` (a live engine over HTTP), ``cli`` (``clinicq
demo`` and ``clinicq simulate``). See docs/SIMULATOR.md.
"""

from clinic_sim.config import DayConfig, DoctorSpec, ServiceSpec, ServiceTime, polyclinic_day
from clinic_sim.model import simulate
from clinic_sim.results import DayResult, WaitStats
from clinic_sim.whatif import Prediction, RosterChange, predict

__all__ = [
    "DayConfig",
    "DayResult",
    "DoctorSpec",
    "Prediction",
    "RosterChange",
    "ServiceSpec",
    "ServiceTime",
    "WaitStats",
    "polyclinic_day",
    "predict",
    "simulate",
]
