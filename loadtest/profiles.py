"""Load profiles: how much traffic, for how long, against how many clinics.

Sized on the city's published figures (stated here, the repository's record of them): ~40-55
new tickets or bookings a second at the seasonal peak, 3-4 state changes per visit (~200 queue
operations a second), ~30,000 live connections.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mix:
    """Share of each operation among write arrivals (they sum to 1)."""

    take_ticket: float = 0.35
    call_next: float = 0.25
    complete: float = 0.2
    reserve: float = 0.15
    move: float = 0.05


@dataclass(frozen=True)
class Profile:
    name: str
    seconds: float
    clinics: int
    ops_per_second: float  # open-loop write arrivals, city-wide
    reads_per_second: float = 0.0  # board reads
    doctors_per_clinic: int = 3
    spike_factor: float = 1.0  # multiplier applied inside the spike window
    spike_window: tuple[float, float] = (0.0, 0.0)
    mix: Mix = field(default_factory=Mix)
    max_requests: int = 2_000_000  # a hard bound on every run
    # Live sockets per clinic through the push server: waiting-room screens, doctors' panels,
    # department heads' dashboards (self-hosted runs only; see loadtest/screens.py).
    screens: tuple[int, int, int] = (0, 0, 0)

    @property
    def screens_per_clinic(self) -> int:
        return sum(self.screens)

    def rate_at(self, t: float) -> float:
        start, end = self.spike_window
        return self.ops_per_second * (self.spike_factor if start <= t < end else 1.0)


PROFILES = {
    "smoke": Profile("smoke", seconds=30, clinics=1, ops_per_second=40, reads_per_second=5),
    "clinic-day": Profile(
        "clinic-day", seconds=300, clinics=1, ops_per_second=25, reads_per_second=5
    ),
    "city-peak": Profile(
        "city-peak",
        seconds=300,
        clinics=660,
        ops_per_second=200,
        reads_per_second=50,
        doctors_per_clinic=4,
        # The city's ~30,000 live connections: 660 x (13 screens + 31 panels + 1 dashboard).
        screens=(13, 31, 1),
    ),
    "spike": Profile(
        "spike",
        seconds=180,
        clinics=50,
        ops_per_second=100,
        spike_factor=10,
        spike_window=(60, 120),
    ),
    # Up to a day with --seconds 86400: 8.6 million writes, drawn as they are due.
    "soak": Profile(
        "soak",
        seconds=3600,
        clinics=50,
        ops_per_second=100,
        reads_per_second=20,
        max_requests=10_000_000,
    ),
    # The 2013 release: walk-ins added 40% on top of an autumn surge (1.5-2x) at once.
    "outage-2013": Profile(
        "outage-2013",
        seconds=240,
        clinics=660,
        ops_per_second=200 * 1.75 * 1.4,
        reads_per_second=50,
    ),
}
