"""The Valkey cluster node configuration (deploy/valkey/cluster-node.conf) as the server reads
it: the embedded valkey-server starts three nodes from it (as `make test-cluster` does), every
directive takes effect, and the engine's cluster client works on them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from engine import keys
from engine.cluster import EmbeddedCluster
from engine.embedded import EmbeddedRedis
from engine.errors import ConfigError
from engine.redis_client import connect
from tests.city.kit import VALKEY_NODE

# Set per node by engine/embedded.py for loopback (the file's values are for store hosts).
OVERRIDDEN = {"port", "bind", "protected-mode"}


def directives(path: Path) -> dict[str, str]:
    """The file's ``name value`` lines (values unquoted)."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            out[name] = value.strip().strip('"')
    return out


def test_the_suite_cluster_runs_from_the_kit_file() -> None:
    """`make test-cluster`'s fixture starts its nodes from this file (tests/conftest.py)."""
    conftest = (Path(__file__).parents[1] / "conftest.py").read_text()
    assert 'EmbeddedCluster(servers_dir / "cluster", config=VALKEY_NODE)' in conftest


def test_a_cluster_runs_from_the_node_config(tmp_path: Path) -> None:
    """Three nodes started from the file hold every directive it sets (as CONFIG GET reports)
    and form a cluster on which the engine's client reads and writes a clinic's keys."""
    wanted = {k: v for k, v in directives(VALKEY_NODE).items() if k not in OVERRIDDEN}
    assert wanted["cluster-enabled"] == "yes" and wanted["appendonly"] == "yes"
    assert wanted["maxmemory-policy"] == "noeviction"
    cluster = EmbeddedCluster(tmp_path / "cluster", config=VALKEY_NODE).start()
    try:
        for node in cluster.nodes:
            client = redis.Redis(port=node.port, decode_responses=True)
            try:
                running = client.config_get("*")
            finally:
                client.close()
            assert {k: running.get(k) for k in wanted} == wanted

        async def round_trip() -> str | None:
            client = connect(cluster.url, cluster=True)
            try:
                await client.set(keys.meta("c42"), "7")
                return await client.get(keys.meta("c42"))  # type: ignore[no-any-return]
            finally:
                await client.aclose()

        assert asyncio.run(round_trip()) in ("7", b"7")
    finally:
        cluster.stop()


def test_a_misspelt_directive_stops_the_node(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The check above can fail: the server refuses a file with a directive it does not know."""
    bad = tmp_path / "node.conf"
    bad.write_text(VALKEY_NODE.read_text().replace("appendonly yes", "appendonyl yes"))
    with pytest.raises(ConfigError):
        EmbeddedRedis(tmp_path / "data", config=bad).start()
    assert "Bad directive" in capfd.readouterr().err
