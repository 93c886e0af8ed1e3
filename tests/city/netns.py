"""Several hosts on one machine: Linux network namespaces on two bridges.

The front network joins nginx (the root namespace) to the application hosts; the back network
joins the application hosts to the store host. Cutting a host's back link partitions it from the
stores while nginx still reaches it, as a switch failing between two racks would. The root
namespace has an address on both bridges (the test talks to every host) and does not forward
between them (``net.ipv4.ip_forward`` is left alone: it is 0 on this machine and in CI).

Every name starts with ``cqc-`` so that ``sweep()`` can remove what a killed run left behind, and
``City.close()`` removes everything it made, processes first, even after a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PREFIX = "cqc-"
FRONT, BACK = "10.231.1", "10.231.2"
BRIDGES = {"front": f"{PREFIX}front", "back": f"{PREFIX}back"}
SUBNETS = {"front": FRONT, "back": BACK}


def ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def namespaces() -> list[str]:
    """Our namespaces that exist now (``ip netns list``)."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.startswith(PREFIX)]


def links() -> list[str]:
    """Our interfaces left in the root namespace (bridges, veth ends)."""
    out = []
    for line in ip("-o", "link", "show").splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            out.append(name)
    return out


def kill_namespace_processes(name: str, timeout: float = 5.0) -> int:
    """SIGKILL every process in namespace ``name``; return how many there were."""
    pids = [int(p) for p in ip("netns", "pids", name, check=False).split()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while ip("netns", "pids", name, check=False).split() and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(pids)


def sweep() -> None:
    """Remove every namespace and interface of ours, with the processes inside."""
    for name in namespaces():
        kill_namespace_processes(name)
        ip("netns", "del", name, check=False)
    for link in links():
        ip("link", "del", link, check=False)


@dataclass
class Host:
    name: str
    addresses: dict[str, str]  # network -> address
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def netns(self) -> str:
        return PREFIX + self.name

    def veth(self, network: str) -> str:
        """The root-side end of this host's link to ``network`` (what a partition cuts)."""
        return f"{PREFIX}{self.name}-{network[0]}"


class City:
    """Bridges, hosts, the processes run in them; ``close()`` undoes all of it."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.hosts: dict[str, Host] = {}
        self.root_processes: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []

    def build(self, hosts: dict[str, dict[str, int]]) -> City:
        """``hosts``: name -> {network: last octet}; e.g. {"app1": {"front": 11, "back": 11}}."""
        sweep()
        self.logs.mkdir(parents=True, exist_ok=True)
        for network, bridge in BRIDGES.items():
            ip("link", "add", bridge, "type", "bridge")
            ip("addr", "add", f"{SUBNETS[network]}.1/24", "dev", bridge)
            ip("link", "set", bridge, "up")
        for name, octets in hosts.items():
            host = Host(name, {n: f"{SUBNETS[n]}.{o}" for n, o in octets.items()})
            ip("netns", "add", host.netns)
            ip("-n", host.netns, "link", "set", "lo", "up")
            for network, address in host.addresses.items():
                outside, inside = host.veth(network), f"{PREFIX}{name}-{network[0]}i"
                ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                ip("link", "set", inside, "netns", host.netns)
                ip("-n", host.netns, "link", "set", inside, "name", network)
                ip("-n", host.netns, "addr", "add", f"{address}/24", "dev", network)
                ip("-n", host.netns, "link", "set", network, "up")
                ip("link", "set", outside, "master", BRIDGES[network])
                ip("link", "set", outside, "up")
            self.hosts[name] = host
        return self

    def run(
        self,
        host: str | None,
        args: list[str],
        log: str,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``args`` in ``host``'s namespace (None: the root one), output to ``logs/log``."""
        out = (self.logs / f"{log}.log").open("ab")
        self._files.append(out)
        prefix = ["ip", "netns", "exec", self.hosts[host].netns] if host else []
        process = subprocess.Popen(
            [*prefix, *args], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        (self.hosts[host].processes if host else self.root_processes).append(process)
        return process

    def kill(self, host: str) -> int:
        """Every process in ``host`` dies at once (SIGKILL): a host lost, not a shutdown."""
        count = kill_namespace_processes(self.hosts[host].netns)
        for process in self.hosts[host].processes:
            process.wait(timeout=10)
        return count

    def cut(self, host: str, network: str, up: bool) -> None:
        """Cut (``up=False``) or restore ``host``'s link to ``network``: its packets are lost."""
        ip("link", "set", self.hosts[host].veth(network), "up" if up else "down")

    def close(self) -> None:
        for host in self.hosts.values():
            kill_namespace_processes(host.netns)
            for process in host.processes:
                process.wait(timeout=10)
        for process in self.root_processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        for f in self._files:
            f.close()
        sweep()
