"""``python -m loadtest``: benchmarks and load profiles (loopback traffic only).

Every command that starts servers takes ``--ports`` (where they listen, so that two runs on one
machine can be placed apart) and ``--out`` (where the report goes); its ``--help`` says what it
measures, against what, and what it writes.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import uvloop

from engine.settings import Settings
from loadtest import bench
from loadtest.ports import Ports, PortsError
from loadtest.profiles import PROFILES

F = TypeVar("F", bound=Callable[..., Any])


def _parse_ports(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Ports:
    try:
        return Ports.parse(value)
    except PortsError as exc:
        raise click.BadParameter(str(exc)) from None


def ports_option(f: F) -> F:
    """``--ports LOW-HIGH`` (or ``--port PORT``): where the servers a command starts listen."""
    return click.option(
        "--ports", "--port", "ports", default=None, metavar="PORT|LOW-HIGH", callback=_parse_ports,
        help="loopback ports for the servers this starts, each taking the next free one of the "
        "range (give two runs on one machine ranges apart)  [default: any free port]",
    )(f)  # fmt: skip


def out_option(f: F) -> F:
    """``--out DIR``: the folder the command writes its report to."""
    return click.option(
        "--out", "out_dir", default=bench.REPORTS, show_default="loadtest/reports",
        type=click.Path(file_okay=False, path_type=Path), help="folder for the report",
    )(f)  # fmt: skip


def _need(ports: Ports, count: int, what: str) -> None:
    """Fail before anything starts when the given range is too small for the run."""
    try:
        ports.require(count, what)
    except PortsError as exc:
        raise click.UsageError(str(exc)) from None


@click.group()
def cli() -> None:
    """Clinic Queue's load tests and benchmarks (loopback traffic only)."""


@cli.command(
    "bench", short_help="durable take-ticket req/s vs a bare Starlette + Lua endpoint (wrk)"
)
@click.option("--seconds", default=15, show_default=True, type=click.IntRange(1, 600),
              help="wrk's measured run against each server")  # fmt: skip
@click.option("--warmup", default=3, show_default=True, type=click.IntRange(0, 60),
              help="an unmeasured wrk run before each measured one")  # fmt: skip
@click.option("--connections", default=64, show_default=True, type=click.IntRange(1, 2000))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16),
              help="uvicorn workers of each server")  # fmt: skip
@ports_option
@out_option
def bench_command(
    seconds: int, warmup: int, connections: int, workers: int, ports: Ports, out_dir: Path
) -> None:
    """Durable take-ticket throughput and latency, against a bare Starlette + Lua baseline.

    Measures: requests/s and p50/p90/p99 from wrk (closed loop, keep-alive) on the engine's
    POST /api/v1/clinics/demo/tickets with a kiosk token: issue.lua, then the journal's group
    commit to PostgreSQL, then the answer.

    Baseline: loadtest/baseline.py, the same stack (Starlette, uvicorn, redis-py) taking a ticket
    with one Lua script and nothing else, measured before and after the durable run with the same
    workers and connections. The figure is durable / baseline requests a second.

    Stores: embedded Valkey and PostgreSQL, or those REDIS_URL and DATABASE_URL name. Needs wrk
    (`make wrk` installs Debian's; `make bench` does it first).

    Writes: OUT/bench-YYYYMMDD-HHMMSS.json (the three runs and ratio_durable_to_baseline). Exits
    1 if any request failed. Listens on 2 ports (the baseline, the engine), 3 with embedded
    Valkey.
    """
    _need(ports, 2 if Settings.from_env().redis_url else 3, "bench")
    sys.exit(bench.main(seconds, connections, workers, warmup=warmup, ports=ports, out_dir=out_dir))


def _counts(value: str) -> list[int]:
    try:
        counts = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of numbers") from None
    if not counts or min(counts) < 1:
        raise click.BadParameter("a comma-separated list of positive numbers")
    return counts


@cli.command(
    "rebuild-bench", short_help="rebuild after a Redis loss: snapshot + tail vs a full fold"
)
@click.option("--entries", default="100000,1000000", show_default=True,
              help="history sizes, journal entries per clinic")  # fmt: skip
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20))
@ports_option
@out_option
def rebuild_bench_command(entries: str, repeat: int, ports: Ports, out_dir: Path) -> None:
    """Rebuild time after a Redis loss, against a full fold of the journal in the same run.

    Measures: for each history size, a synthetic clinic's journal is written, its Redis keys
    deleted and the clinic rebuilt by the engine: from a snapshot plus the worst tail, and from a
    snapshot at the head, REPEAT times each (min-max).

    Baseline: the same rebuild folding the whole journal; the figure is snapshot / full fold.

    Stores: embedded Valkey and PostgreSQL, or those REDIS_URL and DATABASE_URL name.

    Writes: OUT/rebuild-YYYYMMDD-HHMMSS.json. Listens on 1 port (embedded Valkey) or none.
    """
    from loadtest import rebuild_bench

    env = Settings.from_env()
    if not (env.redis_url and env.database_url):
        _need(ports, 1, "rebuild-bench")
    report = rebuild_bench.main(
        _counts(entries), repeat, env.redis_url, env.database_url, ports=ports, out_dir=out_dir
    )
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


# --gc: which push phases run after the bare calibration (True: the GC policy, False: CPython's).
GC_MODES = {"policy": (True,), "default": (False,), "both": (True, False)}


@cli.command(
    "ws-bench", short_help="push event-to-screen latency and CPU/frame vs a bare websockets server"
)
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
@click.option("--gc", "gc_mode", type=click.Choice(list(GC_MODES)), default="policy",
              show_default=True, help="the push phases: 'policy' (displays/gcpolicy.py), "
              "'default' (CPython's collector: phase push-nogc) or 'both'")  # fmt: skip
@ports_option
@out_option
def ws_bench_command(
    screens: str, rate: float, clinics: int, processes: int, generators: int, seconds: float,
    warmup: float, workers: int, gc_mode: str, ports: Ports, out_dir: Path,
) -> None:  # fmt: skip
    """Event-to-screen latency and push CPU per delivered frame, against a bare websockets
    calibration.

    Measures: queue operations made through the engine's HTTP API at RATE events a second
    reach SCREENS sockets (in GENERATORS processes) through the push processes, which read the
    clinics' Redis streams; event-to-screen p50/p99/p99.9/max, push CPU µs per delivered frame
    and per event, and a check that every screen got every event in order.

    Baseline: a bare `websockets` server in as many processes making the same events a second
    from memory (no Redis, auth, boards or heartbeats; CPython's GC), to the same screens in the
    same run. The figure is µs per frame / the bare server's.

    --gc picks the push phases after the bare one, at each screen count: 'policy' the push
    server with displays/gcpolicy.py (phase push), 'default' the same server with CPython's
    default collector (phase push-nogc), 'both' the two.

    Writes: OUT/ws-bench-YYYYMMDD-HHMMSS.json (every phase and its
    ratio_us_per_message_to_bare). Exits 1 if a screen missed or reordered an event. Listens on
    2 + PROCESSES x (1 + push phases) ports: Valkey, the engine, each server process.
    """
    from loadtest import ws_bench

    counts = _counts(screens)
    if max(counts) > 18_000 * processes or max(counts) > 18_000 * generators:
        raise click.ClickException("keep every process under 18,000 sockets: add processes")
    variants = GC_MODES[gc_mode]
    _need(ports, 2 + processes * (1 + len(variants)), "ws-bench")
    click.echo(ws_bench.HEADER)
    report = ws_bench.main(
        counts, rate=rate, clinics=clinics, processes=processes, generators=generators,
        seconds=seconds, warmup=warmup, workers=workers, gc_variants=variants, ports=ports,
        out_dir=out_dir,
    )  # fmt: skip
    click.echo(f"report: {report['path']}")
    sys.exit(1 if any(p["violations"] for p in report["phases"]) else 0)


@cli.command("run", short_help="a load profile: latencies, faults and the invariants (no baseline)")
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
@ports_option
@out_option
def run_command(
    profile: str, url: str | None, token: str | None, seconds: float | None, clinics: int | None,
    seed: int, workers: int,
    plant_duplicate: bool, kill_worker: float | None, restart_redis: float | None,
    restart_postgres: float | None, screens: bool, push_processes: int, generators: int,
    ports: Ports, out_dir: Path,
) -> None:  # fmt: skip
    """Run a load profile, check the invariants, write an HTML and a JSON report.

    Measures: the profile's writes and board reads offered open loop (with its sockets through
    push processes, and the faults asked for): latency per operation (p50/p99/p99.9/max, from
    the scheduled start), errors, event-to-screen latency and push CPU per frame, recovery
    after each fault.

    Baseline: none; the verdict is the invariants: no ticket number or slot given twice, every
    acknowledged ticket and booking journaled, every screen given every event in order.

    Writes: OUT/PROFILE-YYYYMMDD-HHMMSS.json and .html. Exits 1 on a violation. Self-hosted
    (no --url), listens on 2 ports (Valkey, the engine) plus PUSH_PROCESSES with screens.
    """
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
    if url and ports.placed:
        raise click.ClickException("--ports places the harness's own servers: leave out --url")
    if url:
        database_url = Settings.from_env().database_url
        if not (token and database_url):
            raise click.ClickException(
                "--url needs --token (admin) and DATABASE_URL for the invariant checks"
            )
        data = uvloop.run(
            run.run_profile(chosen, url=url, token=token, database_url=database_url, seed=seed,
                            plant_duplicate=plant_duplicate, out_dir=out_dir)
        )  # fmt: skip
    else:
        sockets = screens and chosen.screens_per_clinic > 0
        _need(ports, 2 + (push_processes if sockets else 0), f"run {profile}")
        data = run.self_hosted(
            chosen, seed, workers, fault_plan=plan, plant_duplicate=plant_duplicate,
            screens=screens, push_processes=push_processes, generators=generators, ports=ports,
            out_dir=out_dir,
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


@cli.command("knee", short_help="the write rate at which p99 passes a bound, per worker count")
@click.option("--profile", "name", default="city-peak", show_default=True,
              type=click.Choice(sorted(PROFILES)))  # fmt: skip
@click.option("--workers", default="1,2,3", show_default=True, help="engine worker counts")
@click.option("--rates", default="100,200,400,800,1600", show_default=True,
              help="offered write operations a second, in order")  # fmt: skip
@click.option("--seconds", default=20.0, show_default=True, type=click.FloatRange(2, 300))
@click.option("--bound", default=100.0, show_default=True, help="the write p99 bound, ms")
@click.option("--seed", default=1, show_default=True)
@ports_option
@out_option
def knee_command(
    name: str, workers: str, rates: str, seconds: float, bound: float, seed: int, ports: Ports,
    out_dir: Path,
) -> None:  # fmt: skip
    """The write knee: the most writes a second whose p99 stays under --bound, for each engine
    worker count.

    Measures: the profile's write mix (take ticket, call next, complete, reserve, move) offered
    open loop at each of RATES in turn for SECONDS, board reads alongside at the profile's
    proportion; per step the write p50/p99/max (from the scheduled start), errors, the
    generator's late starts and the CPU of the generator, the engine and the stores. A worker
    count stops at the first step over the bound or with errors.

    Baseline: none; the knee is a rate on this machine (compare runs on the same machine, and the
    generator's CPU beside each step, since it shares the cores).

    Writes: OUT/knee-PROFILE-YYYYMMDD-HHMMSS.json (every step, each count's knee). Listens on
    1 + one port per worker count (Valkey, then the engine at each restart).
    """
    from loadtest import knee

    profile = dataclasses.replace(PROFILES[name], seconds=seconds)
    counts = _counts(workers)
    _need(ports, 1 + len(counts), "knee")
    click.echo(knee.HEADER)
    report = knee.main(
        profile, counts, [float(r) for r in _counts(rates)], bound, seed, ports=ports,
        out_dir=out_dir,
    )  # fmt: skip
    for k in report["knees"]:
        found = k["knee_writes_per_second"]
        click.echo(f"{k['workers']} worker(s): knee {found if found else 'below the first step'}")
    click.echo(f"report: {report['path']}")


@cli.command("soak-days", short_help="simulated days: are the state, the memory and the cost flat?")
@click.option("--days", default=30, show_default=True, type=click.IntRange(4, 3650),
              help="simulated days to live (at most; see --hours)")  # fmt: skip
@click.option("--hours", type=click.FloatRange(0.01, 72),
              help="stop after the day during which this much wall time has passed")  # fmt: skip
@click.option("--day-seconds", type=click.FloatRange(1, 86_400),
              help="spread each day's work over this much wall time, so that the cost per "
                   "operation is compared at a fixed pace (default: as fast as it goes)")  # fmt: skip
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
@ports_option
@out_option
def soak_days_command(
    days: int, hours: float | None, day_seconds: float | None, clinics: int, visits: int, bookings: int, board_reads: int,
    push: int, screens: int, ports: Ports, out_dir: Path,
) -> None:  # fmt: skip
    """Steady state in simulated time: does a clinic's day cost and hold the same on day 300 as
    on day 1?

    Measures: clinics live day after day (midnights included) on the real stores, the engine
    in-process with a simulated clock and, with --push, the product's push processes serving
    live screens. Per day: Redis memory and keys, the live hashes, the stream, the journal, the
    RSS of every product process, the CPU per operation (engine, Redis) and per delivered frame
    (push), and the bytes Redis sends per operation; every screen's missed events at the end.

    Baseline: the run's own days after the warm-up; the verdict says whether the state, the
    memory and the cost stay flat within 10%.

    Stores: embedded Valkey and PostgreSQL, or those REDIS_URL and DATABASE_URL name.

    Writes: OUT/soak-days-YYYYMMDD-HHMMSS.json and .png. Listens on 1 port (embedded Valkey, or
    none) plus one a push process.
    """
    from loadtest import soak_days

    env = Settings.from_env()
    _need(ports, (0 if env.redis_url and env.database_url else 1) + push, "soak-days")
    soak = soak_days.Soak(days=days, hours=hours, day_seconds=day_seconds, clinics=clinics,
                          visits=visits, bookings=bookings, board_reads=board_reads, push=push,
                          screens=screens)  # fmt: skip
    click.echo(f"{'day':>4} {'ops':>6} {'wall s':>7} {'cpu ms/op':>10} {'redis ms/op':>12} "
               f"{'pg ms/op':>9} {'push ms/fr':>11} {'res':>6} {'slots':>6} {'events':>7} "
               f"{'redis MB':>9} {'rss MB':>7} {'load':>5} {'core us':>7}")  # fmt: skip

    def show(s: soak_days.DaySample) -> None:  # each day as it ends: a run of hours shows progress
        click.echo(
            f"{s.day:>4} {s.ops:>6} {s.wall_seconds:>7.1f} {s.cpu_ms_per_op:>10.3f} "
            f"{s.redis_cpu_ms_per_op:>12.3f} {s.postgres_cpu_ms_per_op:>9.3f} "
            f"{s.push_cpu_ms_per_frame:>11.4f} {s.res:>6} {s.slots:>6} {s.events:>7} "
            f"{s.redis_used_memory / 1e6:>9.2f} {s.rss_bytes / 1e6:>7.1f} {s.load_average:>5.2f} "
            f"{s.core_us_per_unit:>7.2f}"
        )

    report = soak_days.main(soak, redis_url=env.redis_url, database_url=env.database_url,
                            progress=show, ports=ports, out_dir=out_dir)  # fmt: skip
    growth = ", ".join(f"{k} {v:+.1%}" for k, v in report["growth"].items())
    click.echo(f"growth after day {soak_days.WARMUP_DAYS}: {growth}")
    click.echo(f"state flat: {report['state_flat']}; cost flat: {report['cost_flat']} "
               f"(raw CPU time: {report['raw_cpu_flat']}); "
               f"memory flat: {report['memory_flat']}; screens that missed events: "
               f"{report['screens_missed_count']}; journal "
               f"{report['journal_bytes_per_year'] / 1e6:.0f} MB a year for the run's clinics")  # fmt: skip
    click.echo(f"report: {report['path']}; plot: {report['plot']}")
    if report["screens_missed_count"]:
        raise SystemExit(1)


@cli.command("memory", short_help="bytes per screen socket and per active clinic")
@click.option("--sockets", default="1000,2000,4000,8000", show_default=True,
              help="screens open at each step, to one push process")  # fmt: skip
@click.option("--screen-clinics", default=200, show_default=True, type=click.IntRange(1, 5000),
              help="clinics the screens are spread over")  # fmt: skip
@click.option("--clinics", default=10, show_default=True, type=click.IntRange(1, 200),
              help="clinics living whole days for the Redis figure")  # fmt: skip
@click.option("--doctors", default=30, show_default=True, type=click.IntRange(1, 200),
              help="doctors a clinic (a Moscow polyclinic has about 35)")  # fmt: skip
@click.option("--visits", default=400, show_default=True, type=click.IntRange(1, 100_000),
              help="walk-ins a clinic a day")  # fmt: skip
@click.option("--bookings", default=600, show_default=True, type=click.IntRange(0, 100_000),
              help="bookings a clinic makes a day (a third cancelled)")  # fmt: skip
@ports_option
@out_option
def memory_command(
    sockets: str, screen_clinics: int, clinics: int, doctors: int, visits: int, bookings: int,
    ports: Ports, out_dir: Path,
) -> None:  # fmt: skip
    """Memory a city needs: per open screen socket, per active clinic.

    Measures: the slope of one push process's RSS over steps of open screen sockets; Redis's
    used_memory over an empty server, per clinic, after whole simulated days of a polyclinic's
    size (and the event stream's share); the journal's bytes on disk per clinic-day. Each is
    scaled to Moscow (30,000 sockets, 660 clinics). Memory is not timing: a busy machine does not
    change it.

    Baseline: the push process with no screens; the empty Redis.

    Writes: OUT/memory-YYYYMMDD-HHMMSS.json. Listens on 3 ports (two embedded Valkeys, one after
    the other, and the push process).
    """
    from loadtest import memory_bench
    from loadtest.soak_days import Soak

    soak = Soak(days=4, clinics=clinics, doctors=doctors, visits=visits, bookings=bookings)
    _need(ports, 3, "memory")
    report = memory_bench.main(_counts(sockets), screen_clinics, soak, ports=ports, out_dir=out_dir)
    click.echo(f"{'sockets':>8} {'push RSS MB':>12} {'USS MB':>8}")
    for step in report["sockets"]["steps"]:
        click.echo(f"{step['sockets']:>8} {step['rss_bytes'] / 1e6:>12.1f} "
                   f"{step['uss_bytes'] / 1e6:>8.1f}")  # fmt: skip
    s, r = report["sockets"], report["redis"]
    click.echo(f"push: {s['rss_bytes_per_clinic_feed'] / 1e3:.1f} KB of RSS a clinic's feed, "
               f"{s['rss_bytes_per_socket'] / 1e3:.1f} KB a socket; "
               f"{s['city_sockets']:,} sockets: {s['city_socket_bytes'] / 1e9:.2f} GB")  # fmt: skip
    click.echo(f"redis: {r['bytes_per_clinic'] / 1e6:.2f} MB a clinic at the end of day "
               f"{len(r['bytes_per_clinic_by_day'])} (by day: "
               + ", ".join(f"{b / 1e6:.2f}" for b in r["bytes_per_clinic_by_day"])
               + f"); {r['city_clinics']} clinics: {r['city_bytes'] / 1e9:.2f} GB")  # fmt: skip
    click.echo(f"of which the event stream (yesterday's and today's events): "
               f"{r['stream_bytes_per_clinic'] / 1e6:.2f} MB a clinic; journal on disk: "
               f"{r['journal_disk_bytes_per_clinic_day'] / 1e6:.2f} MB a clinic a day, "
               f"{r['journal_disk_bytes_per_clinic_year'] / 1e9:.2f} GB a clinic a year "
               f"({r['journal_rows_per_clinic_day']:,} entries a day)")  # fmt: skip
    click.echo(f"report: {report['path']}")


if __name__ == "__main__":
    cli()
