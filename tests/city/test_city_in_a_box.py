"""The city in a box: the product on several hosts (network namespaces) behind nginx, losing a
Valkey master, cutting an app host off from the stores, losing the PostgreSQL primary and
losing a whole app host while tickets, bookings and screens go on.

Hosts: app1-app3 each run one engine worker and one push process, started from the systemd
units' commands with the kit's environment file, and two nodes of a Valkey (Redis) Cluster of
three masters, each replicated on the next host (``tests/city/valkey.py``; the engine and push
name it with REDIS_URL and CLINICQ_REDIS_CLUSTER=1); `store` runs the PostgreSQL primary (initdb
in a temporary folder), `pg2` its synchronous standby; nginx (the root namespace) serves
deploy/nginx/clinicq.conf. The engine reaches PostgreSQL through a multi-host URL with
target_session_attrs=read-write. Through nginx, an open-loop load takes tickets, calls,
completes, reserves and moves slots while screens watch every clinic over /ws/.

The faults, in this order (each needs the one before it to leave the cluster as it does):
1. ``valkey``: a Valkey master's process is SIGKILLed on the host after the one holding most
   screens; its replica (on the next host) is promoted by the cluster's own failover; the
   killed node is started again, as systemd would, and rejoins as a replica.
2. ``partition``: that same host, which now holds two replicas and no master, is cut off from
   the back network (the stores and the other Valkey nodes) for 10 s and restored.
3. ``failover``: the primary's PostgreSQL is killed and the standby promoted.
4. ``kill``: the host holding most screens is killed (every process in it, SIGKILL): its engine,
   its push process and its Valkey master, whose replica (on the partitioned host) is promoted;
   a second Valkey failover, by host loss. Killing a host that held two masters instead would
   leave one master of three, which cannot elect anyone: the order above avoids that.

What must hold: every acknowledged ticket and reservation is in the journal (read from the new
primary); no number or slot was given twice; every screen got every event of its clinic once
and in order, up to the clinic's last (reconnecting with its last offset, as screens do); the
journal's chains verify. Measured and printed: each fault's errors and recovery times (the
Valkey ones with the time until the cluster was ok again), to var/city-smoke.json.

The Valkey cluster and its master failover are opt-in (CLINICQ_CITY_VALKEY=1; `make city` sets
it): without it, the store host runs one Redis and the drill runs faults 2-4. A push process
that stays on a failed master's address after a failover (docs/DEPLOYMENT.md) failed 2 Valkey
runs of 27, and `make city-smoke` runs in CI.

`make city` runs the same drill longer: CLINICQ_CITY_SECONDS of load at CLINICQ_CITY_RATE
operations a second, the faults at the same fractions of it, the report in CLINICQ_CITY_REPORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest

from engine import audit, keys
from engine.auth import create_token
from engine.embedded import free_port, valkey_binary
from engine.redis_client import connect
from loadtest import invariants
from loadtest.http import LeanClient
from loadtest.journal_reader import JournalReader
from loadtest.openloop import Operation, arrivals
from loadtest.processes import wait_until_answers
from loadtest.profiles import Profile
from loadtest.scenario import Scenario
from tests.city.kit import (
    PG_PRIMARY,
    PG_STANDBY,
    nginx_binary,
    render,
    unit_command,
    unit_environment,
    write_nginx,
)
from tests.city.netns import BACK, FRONT, City, links, namespaces
from tests.city.valkey import MASTER_PORT, REPLICA_PORT, ValkeyCluster
from tests.city.watch import Screen

pytestmark = pytest.mark.city

APPS = ("app1", "app2", "app3")
STORE = f"{BACK}.20"
STANDBY = f"{BACK}.21"
# The Valkey cluster over the app hosts and its failovers (below); without it, one Redis on
# the store host, and no Valkey fault.
VALKEY = os.environ.get("CLINICQ_CITY_VALKEY") == "1"
LOAD_SECONDS = float(os.environ.get("CLINICQ_CITY_SECONDS", "46"))
RATE = int(os.environ.get("CLINICQ_CITY_RATE", "40"))
# Each fault's second, as a fraction of the load (4, 17, 31 and 37 s of the smoke's 46 s); a
# fault that finds the one before it still running waits for it (``drive``).
VALKEY_AT, CUT_AT, FAILOVER_AT, KILL_AT = (LOAD_SECONDS * f for f in (0.087, 0.37, 0.674, 0.804))
CUT_FOR = 10.0
PROFILE = Profile("city-box", seconds=LOAD_SECONDS, clinics=8, ops_per_second=RATE)
SCREENS_PER_CLINIC = 2
LATE = 1.0  # seconds: an event later than this on a screen counts as not yet recovered
REPORT = Path(os.environ.get("CLINICQ_CITY_REPORT", "var/city-smoke.json"))


def postgres_bin() -> Path:
    """The machine's PostgreSQL (Debian's), else the pgserver wheel's."""
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists():
            return folder
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def redis_bin() -> str:
    return shutil.which("redis-server") or valkey_binary()


@pytest.fixture
def city(tmp_path: Path, pgdata: Path) -> Iterator[City]:
    """The hosts; torn down however the test ends (before ``pgdata`` is removed from under
    PostgreSQL), and checked to leave nothing behind."""
    town = City(tmp_path / "logs")
    try:
        yield town.build(
            {
                **{a: {"front": 11 + i, "back": 11 + i} for i, a in enumerate(APPS)},
                "store": {"back": 20},
                "pg2": {"back": 21},
            }
        )
    finally:
        town.close()
        assert not namespaces() and not links(), "the drill left namespaces or links behind"


@pytest.fixture
def pgdata() -> Iterator[Path]:
    """A folder the postgres user may own (pytest's own are root's, mode 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="city-pg-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root.
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *args]


@dataclass
class Stores:
    redis_url: str  # the store host's Redis ("" with the Valkey cluster)
    database_url: str  # both PostgreSQL hosts; connections go to whichever is read-write
    primary: subprocess.Popen[bytes]
    standby_data: Path


async def connect_when_up(url: str) -> asyncpg.Connection:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await asyncpg.connect(url, timeout=2)
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def include(data: Path, text: str, name: str) -> None:
    """``text`` as ``name`` in a cluster's folder, included from its postgresql.conf."""
    (data / name).write_text(text)
    shutil.chown(data / name, "postgres", "postgres")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"include '{name}'\n")


def start_postgres(city: City, host: str, data: Path, address: str) -> subprocess.Popen[bytes]:
    # The socket's lock file outside the data folder, or pg_basebackup would copy it along.
    sockets = data.parent / f"sockets-{host}"
    sockets.mkdir()
    shutil.chown(sockets, "postgres", "postgres")
    return city.run(
        host,
        as_postgres([str(postgres_bin() / "postgres"), "-D", str(data),
                     "-c", f"listen_addresses={address}", "-c", "port=5432",
                     "-c", f"unix_socket_directories={sockets}", "-c", "max_connections=200"]),
        f"{host}-postgres",
    )  # fmt: skip


async def start_stores(city: City, pgdata: Path) -> Stores:
    """The PostgreSQL primary on the store host, a synchronous standby on pg2: a commit is
    acknowledged only once the standby has it, so losing the primary loses nothing. Without
    the Valkey cluster, Redis on the store host too."""
    shutil.chown(pgdata, "postgres", "postgres")
    primary, standby = pgdata / "primary", pgdata / "standby"
    pg = postgres_bin()
    await asyncio.to_thread(
        subprocess.run,
        as_postgres([str(pg / "initdb"), "-D", str(primary), "-U", "postgres", "-A", "trust",
                     "-E", "UTF8", "--locale=C", "--no-sync"]),
        check=True, capture_output=True,
    )  # fmt: skip
    # Trust on the test's own back network only (a deployment uses scram-sha-256 passwords).
    with (primary / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {BACK}.0/24 trust\nhost replication all {BACK}.0/24 trust\n")
    include(primary, PG_PRIMARY.read_text(), "clinicq-primary.conf")
    process = start_postgres(city, "store", primary, STORE)
    if not VALKEY:
        redis_dir = city.logs.parent / "redis"
        redis_dir.mkdir()
        city.run(
            "store",
            [redis_bin(), "--bind", STORE, "--port", "6379", "--protected-mode", "no",
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--dir", str(redis_dir)],
            "store-redis",
        )  # fmt: skip
    conn = await connect_when_up(f"postgresql://postgres@{STORE}:5432/postgres")
    try:
        # The standby first, the database after: it reaches the standby as WAL, as it would in a
        # replicated cluster set up before the application.
        await asyncio.to_thread(
            subprocess.run,
            as_postgres([str(pg / "pg_basebackup"), "-h", STORE, "-U", "postgres",
                         "-D", str(standby), "-X", "stream", "--no-sync",
                         "--checkpoint=fast"]),
            check=True, capture_output=True,
        )  # fmt: skip
        values = {"CLINICQ_PG_PRIMARY": STORE, "CLINICQ_PG_REPLICATION_USER": "postgres"}
        include(standby, render(PG_STANDBY, values), "clinicq-standby.conf")
        (standby / "standby.signal").touch()
        shutil.chown(standby / "standby.signal", "postgres", "postgres")
        start_postgres(city, "pg2", standby, STANDBY)
        deadline = time.monotonic() + 60
        while not await conn.fetchval(
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg2' "
            "AND sync_state = 'sync'"
        ):
            assert time.monotonic() < deadline, "the standby did not become synchronous"
            await asyncio.sleep(0.2)
        await conn.execute("CREATE DATABASE clinicq")
    finally:
        await conn.close()
    redis_url = ""
    if not VALKEY:
        redis_url = f"redis://{STORE}:6379/0"
        client = connect(redis_url)
        try:
            for _ in range(100):
                try:
                    await client.ping()
                    break
                except Exception:
                    await asyncio.sleep(0.1)
        finally:
            await client.aclose()
    database_url = (
        f"postgresql://postgres@{STORE}:5432,{STANDBY}:5432/clinicq?target_session_attrs=read-write"
    )
    return Stores(redis_url, database_url, process, standby)


def start_valkey(city: City) -> ValkeyCluster:
    """The Valkey cluster over the app hosts, formed and in sync, before any app starts."""
    cluster = ValkeyCluster(city, APPS, redis_bin(), city.logs.parent / "valkey")
    cluster.start()
    cluster.form()
    return cluster


def fail_over(stores: Stores) -> None:
    """The primary's PostgreSQL dies at once (its processes SIGKILLed); the standby is promoted,
    as a failover manager would do."""
    tree = psutil.Process(stores.primary.pid).children(recursive=True)
    for process in [psutil.Process(stores.primary.pid), *tree]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    stores.primary.wait(timeout=10)
    subprocess.run(
        as_postgres([str(postgres_bin() / "pg_ctl"), "promote", "-w", "-D", str(stores.standby_data)]),
        check=True, capture_output=True,
    )  # fmt: skip


def app_environment(host: str, redis_url: str, database_url: str, public: str) -> dict[str, str]:
    """The kit's environment file for one host, with this city's addresses."""
    address = f"{FRONT}.{11 + APPS.index(host)}"
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {
        **base,
        **unit_environment(
            {
                "REDIS_URL": redis_url,
                **({"CLINICQ_REDIS_CLUSTER": "1"} if VALKEY else {}),
                "DATABASE_URL": database_url,
                "CLINICQ_HOST": address,
                "CLINICQ_PORT": "8000",
                "CLINICQ_WORKERS": "1",
                "CLINICQ_PUSH_PROCESSES": "1",
                "CLINICQ_PUBLIC_URL": public,
                "FORWARDED_ALLOW_IPS": f"{FRONT}.1",
                # The whole load comes from one client address (the test's) through nginx.
                "CLINICQ_RATE_LIMIT": "100000",
                "CLINICQ_RATE_BURST": "100000",
                "CLINICQ_ENCRYPTION_KEY": "5" * 64,
            }
        ),
    }


async def start_apps(city: City, stores: Stores, valkey: ValkeyCluster | None, public: str) -> None:
    """Each app host: the engine unit's command and the push unit's, as systemd would run them,
    naming the Valkey node on their own host (or the store host's Redis)."""

    def start(host: str, unit: str, ready: str) -> None:
        redis_url = valkey.url(host) if valkey else stores.redis_url
        env = app_environment(host, redis_url, stores.database_url, public)
        process = city.run(host, unit_command(unit, env), f"{host}-{unit.split('.')[0]}", env)
        wait_until_answers(
            f"http://{env['CLINICQ_HOST']}:{ready}",
            alive=lambda: process.poll() is None,
            what=f"{unit} on {host}",
            timeout=90,
        )

    # All at once, as a city's hosts boot: the engine serialises its schema changes itself.
    await asyncio.gather(
        *(
            asyncio.to_thread(start, host, unit, ready)
            for host in APPS
            for unit, ready in (
                ("clinicq-engine.service", "8000/readyz"),
                ("clinicq-push.service", "8001/healthz"),
            )
        )
    )


def start_nginx(city: City, port: int) -> None:
    binary = nginx_binary()
    assert binary, "nginx is missing: `make city-smoke` installs Debian's"
    folder = city.logs.parent / "nginx"
    main = write_nginx(
        folder,
        {
            "CLINICQ_LISTEN": f"127.0.0.1:{port}",
            **{f"CLINICQ_APP{i + 1}": f"{FRONT}.{11 + i}" for i in range(len(APPS))},
        },
    )
    process = city.run(
        None, [binary, "-p", str(folder), "-c", str(main), "-e", str(folder / "error.log")], "nginx"
    )
    wait_until_answers(
        f"http://127.0.0.1:{port}/healthz", alive=lambda: process.poll() is None, what="nginx"
    )


def push_sockets(city: City, host: str) -> int:
    """Screens connected to ``host``'s push process now (through nginx)."""
    out = subprocess.run(
        ["ip", "netns", "exec", city.hosts[host].netns, "ss", "-Htn", "state", "established",
         "( sport = :8001 )"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return len(out.stdout.splitlines())


REBUILT = re.compile(r"rebuilt clinic (\S+) at offset (\d+)")


def rebuilt_clinics(logs: Path) -> Counter[str]:
    """Clinics the engines rebuilt from the journal past offset 0 (the first load of each is
    at 0, before any screen), from every engine's log."""
    found: Counter[str] = Counter()
    for log in logs.glob("*-clinicq-engine.log"):
        for match in REBUILT.finditer(log.read_text(errors="replace")):
            if int(match[2]) > 0:
                found[match[1]] += 1
    return found


def fenced_lines(logs: Path) -> list[str]:
    """The engines' ``fenced and rebuilding`` lines: why each rebuild happened."""
    return [
        line.split(" WARNING ", 1)[-1]
        for log in sorted(logs.glob("*-clinicq-engine.log"))
        for line in log.read_text(errors="replace").splitlines()
        if "fenced and rebuilding" in line
    ]


def write_report(report: dict[str, Any]) -> None:
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


@dataclass
class Request:
    start: float
    end: float
    name: str
    outcome: str


@dataclass
class Fault:
    name: str
    host: str
    mono: float  # time.monotonic() when it began
    wall: float  # time.time() when it began
    ended: float | None = None  # wall time it was undone (the partition)
    screens_on_host: int = 0
    # The Valkey cluster's recovery: seconds from the fault until it was ok again, and what.
    valkey: dict[str, Any] = field(default_factory=dict)


async def drive(scenario: Scenario, faults: list[Any]) -> list[Request]:
    """The open-loop load, with each fault's action fired at its second."""
    schedule = arrivals(PROFILE, seed=14)
    done: list[Request] = []
    tasks: set[asyncio.Task[None]] = set()
    start = time.monotonic()

    async def fire(name: str, op: Operation) -> None:
        began = time.monotonic()
        try:
            outcome = await op()
        except Exception:  # a refused connection, a reset, a time-out: the client was not told
            outcome = "error"
        done.append(Request(began, time.monotonic(), name, outcome))

    one_at_a_time = asyncio.Lock()  # each fault leaves the cluster as the next one expects

    async def at(second: float, action: Any) -> None:
        await asyncio.sleep(max(0.0, start + second - time.monotonic()))
        async with one_at_a_time:
            await action()

    fault_tasks = [asyncio.create_task(at(s, a)) for s, a in faults]
    for offset in schedule:
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
        name, op = scenario.pick()
        task = asyncio.create_task(fire(name, op))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*fault_tasks)
    if tasks:
        await asyncio.wait(tasks, timeout=40)
    return done


async def heads(
    database_url: str, redis_url: str, clinics: list[str]
) -> dict[str, tuple[int, int]]:
    """Per clinic: (Redis's offset, the journal's head offset)."""
    conn = await asyncpg.connect(database_url)
    client = connect(redis_url, cluster=VALKEY)
    try:
        rows = await conn.fetch(
            "SELECT clinic, last_offset FROM journal_head WHERE clinic = ANY($1::text[])", clinics
        )
        journal = {r["clinic"]: r["last_offset"] for r in rows}
        out = {}
        for clinic in clinics:
            live = await client.hget(keys.meta(clinic), "offset")
            out[clinic] = (int(live or 0), journal.get(clinic, 0))
        return out
    finally:
        await client.aclose()
        await conn.close()


def measure(
    fault: Fault, until_wall: float, requests: list[Request], screens: list[Screen]
) -> dict[str, Any]:
    """What one fault cost: failed requests and how long until screens were in step again."""
    span = until_wall - fault.wall
    # A request counts where it ended: one in flight when the fault struck fails after it.
    window = [r for r in requests if fault.mono <= r.end < fault.mono + span]
    errors = [r for r in window if r.outcome == "error"]
    arrived = [
        a
        for s in screens
        for a in s.arrivals
        if fault.wall <= a.wall < until_wall and a.at is not None
    ]
    late = [a for a in arrived if a.wall - a.at > LATE]
    since = fault.ended or fault.wall
    return {
        "fault": fault.name,
        "host": fault.host,
        "screens_on_host": fault.screens_on_host,
        # The partition's length; the failover's kill-to-promoted time.
        "fault_lasted_s": round(fault.ended - fault.wall, 2) if fault.ended else 0.0,
        "requests": len(window),
        "errors": len(errors),
        "last_error_s": round(max(r.end for r in errors) - fault.mono, 2) if errors else 0.0,
        "events_delivered": len(arrived),
        "max_event_delay_s": round(max((a.wall - a.at for a in arrived), default=0.0), 2),
        # From the fault's end (the kill's moment; the partition's restore) until the last
        # event later than LATE reached a screen: after it, every screen was in step.
        "screens_back_in_step_s": round(max(0.0, max(a.wall for a in late) - since), 2)
        if late
        else 0.0,
        # The same, counted from the fault's start.
        "screens_in_step_after_fault_s": round(max(a.wall for a in late) - fault.wall, 2)
        if late
        else 0.0,
        **({"valkey": fault.valkey} if fault.valkey else {}),
    }


async def test_city_survives_a_lost_master_a_partition_a_failover_and_a_lost_host(
    city: City, pgdata: Path, tmp_path: Path
) -> None:
    """No acknowledged ticket or booking lost, none given twice, every screen gets every event
    once and in order, through a Valkey master killed and failed over to its replica, an app
    host cut off from the stores, the PostgreSQL primary lost and its synchronous standby
    promoted, and an app host killed with the Valkey master on it."""
    began = time.monotonic()
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    stores = await start_stores(city, pgdata)
    database_url = stores.database_url
    valkey = await asyncio.to_thread(start_valkey, city) if VALKEY else None
    await start_apps(city, stores, valkey, public)
    start_nginx(city, port)
    ready_s = time.monotonic() - began

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        admin = (await create_token(pool, "admin", label="city"))[1]
        http = LeanClient(public, max_connections=64, timeout=20)
        scenario = Scenario(http, admin, PROFILE, seed=14)
        await scenario.setup()
        clinics = [c.id for c in scenario.clinics]
        tokens = {c: (await create_token(pool, "display", clinic=c))[1] for c in clinics}
    finally:
        await pool.close()

    stop = asyncio.Event()
    screens = [
        Screen(f"ws://127.0.0.1:{port}", c, tokens[c], f"{c}#{n}")
        for c in clinics
        for n in range(SCREENS_PER_CLINIC)
    ]
    watching = [asyncio.create_task(s.run(stop)) for s in screens]
    async with asyncio.timeout(30):
        while True:
            if all(s.last >= 0 for s in screens):
                break
            await asyncio.sleep(0.1)

    # The host to kill last holds most screens (so that the drill moves some); the Valkey
    # master killed first is the next host's, whose replica is on the host after that; the
    # next host is then the one cut off: it is left with two replicas and no master, and one of
    # them, the replica of the last host's master, takes over when that host is killed.
    counts = {h: push_sockets(city, h) for h in APPS}
    doomed = max(APPS, key=lambda h: counts[h])
    cut_host = APPS[(APPS.index(doomed) + 1) % len(APPS)]
    survivor = APPS[(APPS.index(doomed) + 2) % len(APPS)]
    # For the checks: a Valkey node that is never killed.
    redis_url = valkey.url(survivor) if valkey else stores.redis_url
    faults: list[Fault] = []

    async def kill_master() -> None:
        assert valkey is not None
        node = valkey.node(cut_host, MASTER_PORT)
        fault = Fault("valkey", node.name, time.monotonic(), time.time())
        faults.append(fault)
        await asyncio.to_thread(valkey.kill, node)
        ok_s = await asyncio.to_thread(valkey.wait_healthy, 2, (node,), 60.0)
        fault.ended = fault.wall + ok_s
        promoted = valkey.node(APPS[(APPS.index(cut_host) + 1) % len(APPS)], REPLICA_PORT)
        roles = await asyncio.to_thread(valkey.roles)
        assert roles[promoted.name] == "master", roles
        # systemd starts it again: the old master comes back as the new one's replica.
        valkey.run(node)
        rejoined_s = await asyncio.to_thread(valkey.wait_healthy, 3, (), 60.0)
        back_s = time.time() - fault.wall
        roles = await asyncio.to_thread(valkey.roles)
        assert roles[node.name] == f"replica of {promoted.name}", roles
        fault.valkey = {
            "killed_master": node.name,
            "promoted": promoted.name,
            "cluster_ok_s": round(ok_s, 2),
            # Started again at once: until it is a replica in sync, from the kill and from
            # its start (loading its AOF, learning it lost its slots, a full resync).
            "back_as_replica_s": round(back_s, 2),
            "back_as_replica_after_start_s": round(rejoined_s, 2),
        }

    async def cut() -> None:
        screens_on_host = push_sockets(city, cut_host)
        fault = Fault("partition", cut_host, time.monotonic(), time.time(), None, screens_on_host)
        faults.append(fault)
        await asyncio.to_thread(city.cut, cut_host, "back", False)
        await asyncio.sleep(CUT_FOR)
        await asyncio.to_thread(city.cut, cut_host, "back", True)
        fault.ended = time.time()

    async def failover() -> None:
        faults.append(Fault("failover", "store", time.monotonic(), time.time()))
        await asyncio.to_thread(fail_over, stores)
        faults[-1].ended = time.time()

    async def kill() -> None:
        fault = Fault(
            "kill", doomed, time.monotonic(), time.time(), None, push_sockets(city, doomed)
        )
        faults.append(fault)
        await asyncio.to_thread(city.kill, doomed)
        if valkey is None:
            return
        gone = tuple(n for n in valkey.nodes if n.host == doomed)
        ok_s = await asyncio.to_thread(valkey.wait_healthy, 1, gone, 60.0)
        promoted = valkey.node(cut_host, REPLICA_PORT)
        roles = await asyncio.to_thread(valkey.roles)
        assert roles[promoted.name] == "master", roles
        fault.valkey = {
            "killed_master": valkey.node(doomed, MASTER_PORT).name,
            "promoted": promoted.name,
            "cluster_ok_s": round(ok_s, 2),
        }

    requests = await drive(
        scenario,
        [
            *([(VALKEY_AT, kill_master)] if valkey else []),
            (CUT_AT, cut),
            (FAILOVER_AT, failover),
            (KILL_AT, kill),
        ],
    )
    load_ended = time.time()

    # Settle: what the killed worker left in Redis is journaled by `reconcile`, and every screen
    # catches up to its clinic's last offset.
    settle_began = time.monotonic()
    while True:
        now = await heads(database_url, redis_url, clinics)
        settled = all(live == journal for live, journal in now.values()) and all(
            s.last == now[s.clinic][1] for s in screens
        )
        if settled or time.monotonic() - settle_began > 60:
            break
        await asyncio.sleep(0.5)
    settle_s = time.monotonic() - settle_began
    stop.set()
    await asyncio.gather(*watching)
    await http.aclose()

    # What clients were told against the journal, as `loadtest run` checks it.
    ledger = scenario.ledger
    reader = JournalReader(database_url, clinics, ledger.journaled)
    await reader.read()
    found = await reader.lookup()
    violations = [
        *[
            invariants.Violation("Redis and the journal disagree after 60 s", f"{c}: {pair}")
            for c, pair in now.items()
            if pair[0] != pair[1]
        ],
        *ledger.numbers.violations(),
        *invariants.no_slot_twice(ledger.reservations.values(), reader.cancelled),
        *ledger.journaled.violations(found),
    ]
    # A screen's snapshot after its first is allowed for one reason only: the engine rebuilt
    # its clinic from the journal (found Redis behind: a failover to a replica that had not
    # had the last writes), which screens learn as a new epoch. Any other is a violation.
    rebuilds = rebuilt_clinics(city.logs)
    for s in screens:
        unexplained = s.resyncs - (s.rebuilt if rebuilds[s.clinic] else 0)
        if s.refused or s.repeated or unexplained or s.last != now[s.clinic][1]:
            violations.append(
                invariants.Violation(
                    "screen not every event once and in order",
                    f"{s.key}: refused={s.refused} repeated={s.repeated} resyncs={s.resyncs} "
                    f"(rebuilt {s.rebuilt}) last={s.last} head={now[s.clinic][1]}",
                )
            )
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        for clinic in clinics:
            chain = await audit.verify(pool, clinic, {}, b"")
            if not chain.ok:
                violations.append(invariants.Violation("journal chain broken", str(chain)))
    finally:
        await pool.close()

    kill_fault = faults[-1]
    ends = [f.wall for f in faults[1:]] + [load_ended + settle_s]
    report = {
        "hosts_ready_s": round(ready_s, 1),
        "load": {
            "seconds": LOAD_SECONDS,
            "rate": RATE,
            "requests": len(requests),
            "ok": sum(r.outcome == "ok" for r in requests),
            "refused": sum(r.outcome == "refused" for r in requests),
            "errors": sum(r.outcome == "error" for r in requests),
            "tickets_acknowledged": scenario.ledger.tickets,
            "reservations_acknowledged": len(scenario.ledger.reservations),
        },
        "screens": {
            "count": len(screens),
            "events_delivered": sum(len(s.arrivals) for s in screens),
            "reconnects": sum(s.connects - 1 for s in screens),
            "gaps_refilled": sum(s.gaps for s in screens),
            "snapshots_after_a_rebuild": sum(s.rebuilt for s in screens),
        },
        "rebuilds": {
            "clinics_rebuilt_under_load": dict(rebuilds),
            "fenced": fenced_lines(city.logs),
        },
        "faults": [measure(f, end, requests, screens) for f, end in zip(faults, ends, strict=True)],
        "valkey_roles_at_end": await asyncio.to_thread(valkey.roles) if valkey else None,
        "settle_s": round(settle_s, 1),
        "wall_s": round(time.monotonic() - began, 1),
        "violations": [f"{v.invariant}: {v.detail}" for v in violations],
    }
    await asyncio.to_thread(write_report, report)
    print("\ncity in a box:", json.dumps(report, indent=2, ensure_ascii=False))

    assert kill_fault.screens_on_host > 0, "the killed host held no screens: nothing was tested"
    assert not violations, f"{violations[:20]}; the hosts' logs: {city.logs}"
    assert scenario.ledger.tickets > 100 and len(scenario.ledger.reservations) > 20
