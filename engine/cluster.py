"""A Redis Cluster on loopback from the installed valkey-server binary: for tests and load runs.

Three primaries, no replicas; the slots are split evenly and the nodes introduced with
``CLUSTER MEET``, so no ``redis-cli --cluster`` is needed. Given a node configuration file
(the suite passes deploy/valkey/cluster-node.conf), every node runs from it.
"""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.embedded import EmbeddedRedis
from engine.errors import ConfigError

SLOTS = 16384


def _command(port: int, *args: str) -> str:
    """Send one command in RESP and return the raw reply (small replies only)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload.encode())
        return sock.recv(65536).decode(errors="replace")


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too; so at most 55535."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 55_535)
        if _free(port) and _free(port + 10_000):
            return port
    raise ConfigError("cluster: no free pair of ports for a node and its cluster bus")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class EmbeddedCluster:
    data_dir: Path
    size: int = 3
    nodes: list[EmbeddedRedis] = field(default_factory=list)
    config: Path | None = None

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self, timeout: float = 30.0) -> EmbeddedCluster:
        for i in range(self.size):
            node = EmbeddedRedis(
                data_dir=self.data_dir / f"node{i}",
                port=_cluster_port(),
                config=self.config,
                extra_args=[] if self.config else [
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "3000"],
            )  # fmt: skip
            self.nodes.append(node.start())
        step = SLOTS // self.size
        for i, node in enumerate(self.nodes):
            last = SLOTS - 1 if i == self.size - 1 else (i + 1) * step - 1
            reply = _command(node.port, "CLUSTER", "ADDSLOTSRANGE", str(i * step), str(last))
            if not reply.startswith("+OK"):
                raise ConfigError(f"cluster: ADDSLOTSRANGE failed: {reply.strip()}")
        for node in self.nodes[1:]:
            _command(self.nodes[0].port, "CLUSTER", "MEET", "127.0.0.1", str(node.port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all("cluster_state:ok" in _command(n.port, "CLUSTER", "INFO") for n in self.nodes):
                known = _command(self.nodes[0].port, "CLUSTER", "NODES").count("connected")
                if known >= self.size:
                    return self
            time.sleep(0.2)
        raise ConfigError("cluster: the nodes did not agree on a healthy cluster in time")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.nodes.clear()
