"""``clinicq demo`` (drive a live engine like a real morning) and ``clinicq simulate`` (one day)."""

from __future__ import annotations

import asyncio
import json

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clinic_sim.config import polyclinic_day
from clinic_sim.drive import DriveError, DriveOptions, DriveReport, drive
from clinic_sim.model import simulate as simulate_day


def _hhmm(minute: float) -> str:
    return f"{int(minute) // 60 % 24:02d}:{int(minute) % 60:02d}"


def _clock(text: str) -> int:
    try:
        hours, minutes = text.split(":")
        return int(hours) * 60 + int(minutes)
    except ValueError:
        raise click.BadParameter("use HH:MM") from None


@click.command()
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="the engine")
@click.option(
    "--token",
    envvar="CLINICQ_TOKEN",
    required=True,
    help="the clinic's head token (printed by `clinicq run`) or an admin token [CLINICQ_TOKEN]",
)
@click.option("--clinic", default="demo", show_default=True)
@click.option("--speed", default=60.0, show_default=True, type=click.FloatRange(1, 3600))
@click.option(
    "--minutes",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1, 720),
    help="simulated minutes to drive (at 60x, an hour in a real minute)",
)
@click.option("--start", default="08:00", show_default=True, help="simulated clock at the start")
@click.option("--season", default=1.0, show_default=True, type=click.FloatRange(1, 3))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--max-requests", default=10_000, show_default=True, type=click.IntRange(1))
@click.option("--allow-remote", is_flag=True, help="drive a non-loopback URL")
def demo(
    url: str,
    token: str,
    clinic: str,
    speed: float,
    minutes: float,
    start: str,
    season: float,
    seed: int,
    max_requests: int,
    allow_remote: bool,
) -> None:
    """Play a simulated morning against a running engine, SPEED times faster than real time."""
    options = DriveOptions(
        url=url,
        token=token,
        clinic=clinic,
        speed=speed,
        minutes=minutes,
        start=_clock(start),
        seed=seed,
        season=season,
        max_requests=max_requests,
        allow_remote=allow_remote,
    )
    console = Console()
    report = DriveReport()
    began = options.start
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"{clinic} at {speed:g}x", total=minutes, clock="", counts="")

        def show() -> None:
            # The simulated clock and what happened so far: the bar moves with the morning.
            now = began + report.simulated_minutes
            progress.update(
                task,
                completed=report.simulated_minutes,
                clock=f"{_hhmm(now)} of {_hhmm(began)}-{_hhmm(began + minutes)}",
                counts=f"tickets {len(report.tickets)}, called {report.called}, "
                f"booked {report.booked}",
            )

        async def main() -> DriveReport:
            job = asyncio.create_task(drive(options, report=report))
            while not job.done():
                await asyncio.wait({job}, timeout=0.5)
                show()
            return job.result()

        try:
            report = asyncio.run(main())
        except DriveError as exc:
            raise click.ClickException(str(exc)) from exc
    table = Table(title=f"{clinic}: {report.simulated_minutes:.0f} simulated minutes")
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in (
        ("tickets taken", len(report.tickets)),
        ("bookings made", report.booked),
        *((f"  of them on {day} (none free today)", n) for day, n in report.booked_ahead.items()),
        ("checked in", report.checked_in),
        ("called", report.called),
        ("completed", report.completed),
        ("no-shows", report.no_shows),
        ("delayed intake", report.suspended),
        ("breaks", report.breaks),
        ("requests", report.requests),
    ):
        table.add_row(name, str(value))
    for error, n in sorted(report.errors.items()):
        table.add_row(f"[red]{error}", str(n))
    console.print(table)


@click.command()
@click.option("--season", default=1.0, show_default=True, type=click.FloatRange(1, 3))
@click.option("--seed", default=0, show_default=True, type=int)
def simulate(season: float, seed: int) -> None:
    """Simulate a typical polyclinic day and print its waits, loads and KPI as JSON."""
    result = simulate_day(polyclinic_day(season=season), seed)
    click.echo(json.dumps(result.summary(), ensure_ascii=False, indent=2))


commands = [demo, simulate]
