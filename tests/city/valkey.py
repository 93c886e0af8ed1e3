"""The city's Valkey: a Redis Cluster of three masters spread over the application hosts.

Each app host runs two nodes on its back address: a master on 6379, and on 6380 the replica of
the previous host's master (app1's master is replicated on app2, app2's on app3, app3's on app1),
so a lost host takes one master with it and that master's replica, elsewhere, takes over. The
cluster is formed as ``redis-cli --cluster create ... --cluster-replicas 1`` would, but with the
placement spelled out: slots split evenly over the masters, the nodes introduced with
``CLUSTER MEET`` and each replica attached with ``CLUSTER REPLICATE``.

The node settings that matter for the drill, each chosen for a store that is derived state (the
journal decides; a promoted replica that is behind is fenced and rebuilt by the engine):

- ``cluster-node-timeout 2000``: a silent master is failed over after about two seconds.
- ``cluster-replica-validity-factor 0``: a replica takes over however long it was cut off from
  its master; staying down would cost availability and buy nothing the fence does not give.
- ``cluster-require-full-coverage no``: while one master's slots are being failed over, the
  clinics on the other masters go on.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.city.netns import City

SLOTS = 16384
MASTER_PORT, REPLICA_PORT = 6379, 6380
NODE_TIMEOUT_MS = 2000


@dataclass
class Node:
    host: str
    address: str
    port: int
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{self.address}:{self.port}"

    def client(self) -> redis.Redis:
        # No retries: a node that does not answer within a second is down for the drill's checks.
        return redis.Redis(
            self.address, self.port, socket_timeout=1, socket_connect_timeout=1,
            decode_responses=True, retry=Retry(NoBackoff(), 0),
        )  # fmt: skip

    def command(self, *args: str) -> str:
        with self.client() as client:
            return str(client.execute_command(*args))

    def replication(self) -> dict[str, Any]:
        """``INFO replication`` as redis-py parses it (role, master_host, master_link_status)."""
        with self.client() as client:
            return dict(client.info("replication"))


def nodes_table(text: str) -> list[dict[str, str]]:
    """``CLUSTER NODES`` as rows: id, address (ip:port), flags, master id, link, slots."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        rows.append(
            {
                "id": parts[0],
                "address": parts[1].split("@")[0],
                "flags": parts[2],
                "master": parts[3],
                "link": parts[7],
                "slots": " ".join(parts[8:]),
            }
        )
    return rows


@dataclass
class ValkeyCluster:
    city: City
    hosts: tuple[str, ...]
    binary: str
    folder: Path
    nodes: list[Node] = field(default_factory=list)

    def node(self, host: str, port: int) -> Node:
        # Not next(): a StopIteration raised in asyncio.to_thread hangs the awaiting task.
        for node in self.nodes:
            if node.host == host and node.port == port:
                return node
        raise KeyError(f"no Valkey node {host}:{port}")

    def url(self, host: str) -> str:
        """The REDIS_URL a host's processes name: its own master (any node would do: the
        client learns the rest of the cluster from it)."""
        return f"redis://{self.node(host, MASTER_PORT).address}:{MASTER_PORT}/0"

    def start(self) -> None:
        for host in self.hosts:
            address = self.city.hosts[host].addresses["back"]
            for port in (MASTER_PORT, REPLICA_PORT):
                folder = self.folder / f"{host}-{port}"
                folder.mkdir(parents=True)
                args = [
                    self.binary, "--bind", address, "--port", str(port),
                    "--protected-mode", "no", "--dir", str(folder),
                    "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                    "--cluster-replica-validity-factor", "0",
                    "--cluster-require-full-coverage", "no",
                ]  # fmt: skip
                node = Node(host, address, port, args)
                self.nodes.append(node)
                self.run(node)

    def run(self, node: Node) -> None:
        node.process = self.city.run(node.host, node.args, f"{node.host}-valkey-{node.port}")

    def form(self, timeout: float = 60.0) -> None:
        """Slots to the masters, every node introduced, each replica on the next host."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while True:
                try:
                    node.command("PING")
                    break
                except redis.RedisError:
                    if time.monotonic() > deadline or node.process.poll() is not None:  # type: ignore[union-attr]
                        raise
                    time.sleep(0.05)
        masters = [self.node(h, MASTER_PORT) for h in self.hosts]
        step = SLOTS // len(masters)
        for i, master in enumerate(masters):
            last = SLOTS - 1 if i == len(masters) - 1 else (i + 1) * step - 1
            master.command("CLUSTER", "ADDSLOTSRANGE", str(i * step), str(last))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            first.command("CLUSTER", "MEET", node.address, str(node.port))
        ids = {}
        for master in masters:
            ids[master.host] = master.command("CLUSTER", "MYID")
        for i, host in enumerate(self.hosts):
            replica = self.node(self.hosts[(i + 1) % len(self.hosts)], REPLICA_PORT)
            while True:  # REPLICATE needs the master known to the replica first
                try:
                    replica.command("CLUSTER", "REPLICATE", ids[host])
                    break
                except redis.ResponseError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        while not self.healthy(replicas=len(masters)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Valkey cluster did not form: {self.describe()}")
            time.sleep(0.2)

    def healthy(self, replicas: int, gone: tuple[Node, ...] = ()) -> bool:
        """Every live node says ``cluster_state:ok`` and sees every slot on a master that is up,
        with ``replicas`` replicas in sync."""
        live = [n for n in self.nodes if n not in gone]
        try:
            for node in live:
                if "cluster_state:ok" not in node.command("CLUSTER", "INFO"):
                    return False
                rows = nodes_table(node.command("CLUSTER", "NODES"))
                masters = [r for r in rows if "master" in r["flags"] and r["slots"]]
                if len(masters) != len(self.hosts) or any(
                    "fail" in r["flags"] or r["link"] != "connected" for r in masters
                ):
                    return False
            infos = [n.replication() for n in live]
            synced = sum(
                i.get("role") == "slave" and i.get("master_link_status") == "up" for i in infos
            )
        except redis.RedisError:
            return False
        return synced >= replicas

    def roles(self) -> dict[str, str]:
        """Each live node's role now: ``master`` or ``replica of <address>``."""
        out = {}
        for node in self.nodes:
            try:
                info = node.replication()
            except redis.RedisError:
                out[node.name] = "down"
                continue
            if info.get("role") == "master":
                out[node.name] = "master"
            else:
                out[node.name] = f"replica of {info.get('master_host')}:{info.get('master_port')}"
        return out

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.roles().items())

    def kill(self, node: Node) -> None:
        """The node's process dies at once (SIGKILL): no shutdown, no last write to disk."""
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=10)

    def wait_healthy(self, replicas: int, gone: tuple[Node, ...], timeout: float) -> float:
        """Seconds until ``healthy``; raises after ``timeout``."""
        began = time.monotonic()
        while not self.healthy(replicas, gone):
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"the Valkey cluster is not ok: {self.describe()}")
            time.sleep(0.05)
        return time.monotonic() - began
