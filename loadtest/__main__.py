"""``python -m loadtest``: benchmarks and load profiles (loopback traffic only)."""

from __future__ import annotations

import dataclasses
import sys

import click
import uvloop

from engine.settings import Settings
from loadtest import bench
from loadtest.profiles import PROFILES


@click.group()
def cli() -> None:
    """Clinic Queue's load tests and benchmarks (loopback traffic only)."""


@cli.command("bench")
@click.option("--seconds", default=15, show_default=True, type=click.IntRange(1, 600))
@click.option("--connections", default=64, show_default=True, type=click.IntRange(1, 2000))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16))
def bench_command(seconds: int, connections: int, workers: int) -> None:
    """Durable take-ticket throughput against a bare Starlette + Lua baseline."""
    sys.exit(bench.main(seconds, connections, workers))


def _counts(value: str) -> list[int]:
    try:
        counts = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of numbers") from None
    if not counts or min(counts) < 1:
        raise click.BadParameter("a comma-separated list of positive numbers")
    return counts


@cli.command("rebuild-bench")
@click.option("--entries", default="100000,1000000", show_default=True,
              help="history sizes, journal entries per clinic")  # fmt: skip
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20))
def rebuild_bench_command(entries: str, repeat: int) -> None:
    """Rebuild time after a Redis loss: full fold against snapshot plus tail, same run."""
    from loadtest import rebuild_bench

    env = Settings.from_env()
    report = rebuild_bench.main(_counts(entries), repeat, env.redis_url, env.database_url)
    click.echo(f"{'entries':>9} {'full fold s':>12} {'snap+5k s':>10} {'snap@head s':>12} "
               f"{'ratio':>6} {'snapshot MB':>12} {'reservations':>12}")  # fmt: skip
    for r in report["results"]:
        click.echo(
            f"{r['entries']:>9,} {_spread(r['full_fold_s']):>12} "
            f"{_spread(r['snapshot_worst_tail_s']):>10} {_spread(r['snapshot_at_head_s']):>12} "
            f"{r['ratio']:>6.3f} {r['snapshot_bytes'] / 1e6:>12.1f} {r['reservations']:>12,}"
        )
    click.echo(f"report: {report['path']}")


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


@cli.command("ws-bench")
@click.option("--screens", default="1000,5000,10000", show_default=True, help="screen counts")
@click.option("--rate", default=200.0, show_default=True, type=click.FloatRange(1, 2000),
              help="events a second, city-wide")  # fmt: skip
@click.option("--clinics", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--processes", default=2, show_default=True, type=click.IntRange(1, 8),
              help="push processes (and calibration processes)")  # fmt: skip
@click.option("--generators", default=4, show_default=True, type=click.IntRange(1, 16),
              help="screen generator processes")  # fmt: skip
@click.option("--seconds", default=20.0, show_default=True, type=click.FloatRange(1, 120),
              help="the recording window of each phase")  # fmt: skip
@click.option("--warmup", default=5.0, show_default=True, type=click.FloatRange(0, 60))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 4),
              help="engine workers")  # fmt: skip
@click.option("--gc", "gc_mode", type=click.Choice(["policy", "default", "both"]), default="policy",
              show_default=True, help="the push processes' GC: displays/gcpolicy.py, CPython's, or both")  # fmt: skip
def ws_bench_command(
    screens: str, rate: float, clinics: int, processes: int, generators: int, seconds: float,
    warmup: float, workers: int, gc_mode: str,
) -> None:  # fmt: skip
    """Event-to-screen latency and push CPU per message, against a bare broadcast calibration."""
    from loadtest import ws_bench

    counts = _counts(screens)
    if max(counts) > 18_000 * processes or max(counts) > 18_000 * generators:
        raise click.ClickException("keep every process under 18,000 sockets: add processes")
    variants = {"policy": (True,), "default": (False,), "both": (True, False)}[gc_mode]
    click.echo(ws_bench.HEADER)
    report = ws_bench.main(
        counts, rate=rate, clinics=clinics, processes=processes, generators=generators,
        seconds=seconds, warmup=warmup, workers=workers, gc_variants=variants,
    )  # fmt: skip
    click.echo(f"report: {report['path']}")
    sys.exit(1 if any(p["violations"] for p in report["phases"]) else 0)


@cli.command("run")
@click.argument("profile", type=click.Choice(sorted(PROFILES)))
@click.option("--url", default=None, help="a running engine on loopback (default: start one)")
@click.option("--token", default=None, help="an admin token for --url")
@click.option("--seconds", default=None, type=click.FloatRange(1, 24 * 3600),
              help="override the duration (up to a day)")  # fmt: skip
@click.option("--clinics", default=None, type=click.IntRange(1, 2000),
              help="override the number of clinics")  # fmt: skip
@click.option("--seed", default=1, show_default=True)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16))
@click.option("--plant-duplicate", is_flag=True, help="plant a duplicate number: the run must fail")
@click.option(
    "--kill-worker", type=float, default=None, help="SIGKILL an engine worker at this second"
)
@click.option("--restart-redis", type=float, default=None, help="restart Redis at this second")
@click.option(
    "--restart-postgres", type=float, default=None, help="restart PostgreSQL at this second"
)
@click.option("--screens/--no-screens", default=True, show_default=True,
              help="open the profile's live sockets through push processes (self-hosted only)")  # fmt: skip
@click.option("--push-processes", default=3, show_default=True, type=click.IntRange(1, 8))
@click.option("--generators", default=4, show_default=True, type=click.IntRange(1, 16),
              help="socket generator processes")  # fmt: skip
def run_command(
    profile: str, url: str | None, token: str | None, seconds: float | None, clinics: int | None,
    seed: int, workers: int,
    plant_duplicate: bool, kill_worker: float | None, restart_redis: float | None,
    restart_postgres: float | None, screens: bool, push_processes: int, generators: int,
) -> None:  # fmt: skip
    """Run a load profile, check the invariants, write an HTML and a JSON report."""
    from loadtest import run

    chosen = PROFILES[profile]
    if seconds:
        chosen = dataclasses.replace(chosen, seconds=seconds)
    if clinics:
        chosen = dataclasses.replace(chosen, clinics=clinics)
    plan = {
        name: at
        for name, at in (
            ("kill-worker", kill_worker), ("restart-redis", restart_redis), ("restart-postgres", restart_postgres)
        )
        if at is not None
    }  # fmt: skip
    if url and plan:
        raise click.ClickException(
            "faults need the harness's own engine and stores: leave out --url"
        )
    if url:
        database_url = Settings.from_env().database_url
        if not (token and database_url):
            raise click.ClickException(
                "--url needs --token (admin) and DATABASE_URL for the invariant checks"
            )
        data = uvloop.run(
            run.run_profile(chosen, url=url, token=token, database_url=database_url, seed=seed,
                            plant_duplicate=plant_duplicate)
        )  # fmt: skip
    else:
        data = run.self_hosted(
            chosen, seed, workers, fault_plan=plan, plant_duplicate=plant_duplicate,
            screens=screens, push_processes=push_processes, generators=generators,
        )  # fmt: skip
    for op, stats in data["operations"].items():
        click.echo(
            f"{op:<12} n={stats['count']:<7} ok={stats['ok']:<7} refused={stats['refused']:<6} "
            f"errors={stats['errors']:<5} p50={stats['p50_ms']:.1f} p99={stats['p99_ms']:.1f} "
            f"p99.9={stats['p99.9_ms']:.1f} max={stats['max_ms']:.1f} ms"
        )
    if data.get("screens"):
        sc = data["screens"]
        lat = sc["event_to_screen_ms"]
        click.echo(
            f"screens      open={sc['opened']} in {sc['open_seconds']} s  frames/s={sc['delivered_per_second']} "
            f"event-to-screen p50={lat['p50']:.1f} p99={lat['p99']:.1f} p99.9={lat['p99.9']:.1f} "
            f"max={lat['max']:.1f} ms  push={sc['push_us_per_message']} us/frame"
        )
    for f in data.get("faults", []):
        click.echo(
            f"fault {f['fault']} at {f['at']:g} s: {f['errors']} failed requests, "
            f"recovered {f['recovered_after_seconds']:g} s after"
        )
    for v in data["violations"][:20]:
        click.echo(f"VIOLATION {v['invariant']}: {v['detail']}")
    click.echo(f"report: {data['report']['html']}")
    sys.exit(1 if data["violations"] else 0)


@cli.command("knee")
@click.option("--profile", "name", default="city-peak", show_default=True,
              type=click.Choice(sorted(PROFILES)))  # fmt: skip
@click.option("--workers", default="1,2,3", show_default=True, help="engine worker counts")
@click.option("--rates", default="100,200,400,800,1600", show_default=True,
              help="offered write operations a second, in order")  # fmt: skip
@click.option("--seconds", default=20.0, show_default=True, type=click.FloatRange(2, 300))
@click.option("--bound", default=100.0, show_default=True, help="the write p99 bound, ms")
@click.option("--seed", default=1, show_default=True)
def knee_command(
    name: str, workers: str, rates: str, seconds: float, bound: float, seed: int
) -> None:
    """Step the open-loop write rate until p99 passes the bound, for each engine worker count."""
    from loadtest import knee

    profile = dataclasses.replace(PROFILES[name], seconds=seconds)
    click.echo(knee.HEADER)
    report = knee.main(profile, _counts(workers), [float(r) for r in _counts(rates)], bound, seed)
    for k in report["knees"]:
        found = k["knee_writes_per_second"]
        click.echo(f"{k['workers']} worker(s): knee {found if found else 'below the first step'}")
    click.echo(f"report: {report['path']}")


@cli.command("soak-days")
@click.option("--days", default=30, show_default=True, type=click.IntRange(4, 3650),
              help="simulated days to live (at most; see --hours)")  # fmt: skip
@click.option("--hours", type=click.FloatRange(0.01, 72),
              help="stop after the day during which this much wall time has passed")  # fmt: skip
@click.option("--clinics", default=1, show_default=True, type=click.IntRange(1, 100),
              help="clinics living side by side")  # fmt: skip
@click.option("--visits", default=200, show_default=True, type=click.IntRange(1, 100_000),
              help="walk-ins a clinic a day, each called and served")  # fmt: skip
@click.option("--bookings", default=60, show_default=True, type=click.IntRange(0, 10_000),
              help="bookings a clinic makes a day for the next three days (a third cancelled)")  # fmt: skip
@click.option("--board-reads", default=20, show_default=True, type=click.IntRange(0, 100_000),
              help="engine board reads a clinic a day")  # fmt: skip
@click.option("--push", default=0, show_default=True, type=click.IntRange(0, 16),
              help="push processes serving screens (0: no screens)")  # fmt: skip
@click.option("--screens", default=4, show_default=True, type=click.IntRange(1, 1000),
              help="screens a clinic, with --push")  # fmt: skip
def soak_days_command(
    days: int, hours: float | None, clinics: int, visits: int, bookings: int, board_reads: int,
    push: int, screens: int,
) -> None:  # fmt: skip
    """Steady state in simulated time: clinics live day after day (midnights included) on the
    real stores, the engine in-process with a simulated clock and, with --push, the product's
    push processes serving live screens. Per day it samples Redis memory and keys, the live
    hashes, the stream, the journal, the RSS of every product process and the CPU per operation
    (engine, Redis) and per delivered frame (push); it reports each series' growth after the
    booking window fills, a verdict (flat within 10% or not), and every screen's missed events.
    Writes loadtest/reports/soak-days-*.json and a PNG of the series."""
    from loadtest import soak_days

    env = Settings.from_env()
    soak = soak_days.Soak(days=days, hours=hours, clinics=clinics, visits=visits,
                          bookings=bookings, board_reads=board_reads, push=push, screens=screens)  # fmt: skip
    report = soak_days.main(soak, redis_url=env.redis_url, database_url=env.database_url)
    click.echo(f"{'day':>4} {'ops':>6} {'wall s':>7} {'cpu ms/op':>10} {'redis ms/op':>12} "
               f"{'push ms/fr':>11} {'res':>6} {'slots':>6} {'events':>7} {'redis MB':>9} "
               f"{'rss MB':>7}")  # fmt: skip
    for s in report["samples"]:
        click.echo(
            f"{s['day']:>4} {s['ops']:>6} {s['wall_seconds']:>7.1f} {s['cpu_ms_per_op']:>10.3f} "
            f"{s['redis_cpu_ms_per_op']:>12.3f} {s['push_cpu_ms_per_frame']:>11.4f} "
            f"{s['res']:>6} {s['slots']:>6} {s['events']:>7} "
            f"{s['redis_used_memory'] / 1e6:>9.2f} {s['rss_bytes'] / 1e6:>7.1f}"
        )
    growth = ", ".join(f"{k} {v:+.1%}" for k, v in report["growth"].items())
    click.echo(f"growth after day {soak_days.WARMUP_DAYS}: {growth}")
    click.echo(f"state flat: {report['state_flat']}; cost flat: {report['cost_flat']}; "
               f"memory flat: {report['memory_flat']}; screens that missed events: "
               f"{report['screens_missed_count']}; journal "
               f"{report['journal_bytes_per_year'] / 1e6:.0f} MB a year for the run's clinics")  # fmt: skip
    click.echo(f"report: {report['path']}; plot: {report['plot']}")
    if report["screens_missed_count"]:
        raise SystemExit(1)


if __name__ == "__main__":
    cli()
