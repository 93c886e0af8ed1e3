"""``python -m loadtest``: benchmarks and load profiles (loopback traffic only)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys

import click

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


@cli.command("run")
@click.argument("profile", type=click.Choice(sorted(PROFILES)))
@click.option("--url", default=None, help="a running engine on loopback (default: start one)")
@click.option("--token", default=None, help="an admin token for --url")
@click.option(
    "--seconds", default=None, type=click.FloatRange(1, 4 * 3600), help="override the duration"
)
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
def run_command(
    profile: str, url: str | None, token: str | None, seconds: float | None, seed: int, workers: int,
    plant_duplicate: bool, kill_worker: float | None, restart_redis: float | None,
    restart_postgres: float | None,
) -> None:  # fmt: skip
    """Run a load profile, check the invariants, write an HTML and a JSON report."""
    from loadtest import run

    chosen = PROFILES[profile]
    if seconds:
        chosen = dataclasses.replace(chosen, seconds=seconds)
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
        database_url = os.environ.get("DATABASE_URL")
        if not (token and database_url):
            raise click.ClickException(
                "--url needs --token (admin) and DATABASE_URL for the invariant checks"
            )
        data = asyncio.run(
            run.run_profile(chosen, url=url, token=token, database_url=database_url, seed=seed,
                            plant_duplicate=plant_duplicate)
        )  # fmt: skip
    else:
        data = run.self_hosted(
            chosen, seed, workers, fault_plan=plan, plant_duplicate=plant_duplicate
        )
    for op, stats in data["operations"].items():
        click.echo(
            f"{op:<12} n={stats['count']:<7} ok={stats['ok']:<7} refused={stats['refused']:<6} "
            f"errors={stats['errors']:<5} p50={stats['p50_ms']:.1f} p99={stats['p99_ms']:.1f} "
            f"p99.9={stats['p99.9_ms']:.1f} max={stats['max_ms']:.1f} ms"
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


if __name__ == "__main__":
    cli()
