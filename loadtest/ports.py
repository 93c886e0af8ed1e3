"""Where a benchmark's servers listen: the next free port of a range the user gives
(``--ports 20000-20099``), so that two benchmarks on one machine can be placed apart, or any free
port when none is given. Every port handed out is remembered for the report.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from engine.embedded import free_port

HOST = "127.0.0.1"


class PortsError(ValueError):
    """A port range that cannot be parsed, or that holds too few free ports for the run."""


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        # The servers set SO_REUSEADDR too: a port in TIME_WAIT after a previous run is fine.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


@dataclass
class Ports:
    """Ports ``low``..``high`` (inclusive) taken in turn, skipping any already in use; with no
    range, any free port (``engine.embedded.free_port``), as before the option existed."""

    low: int | None = None
    high: int | None = None
    taken: list[int] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None) -> Ports:
        """``None`` (any free port), ``PORT`` (that one port) or ``LOW-HIGH``."""
        if not text:
            return cls()
        low_text, dash, high_text = text.partition("-")
        try:
            low = int(low_text)
            high = int(high_text) if dash else low
        except ValueError:
            raise PortsError(f"{text!r} is not PORT or LOW-HIGH, e.g. 20000-20099") from None
        if not 1024 <= low <= high <= 65535:
            raise PortsError(f"{text!r}: want 1024 <= LOW <= HIGH <= 65535")
        return cls(low, high)

    @property
    def placed(self) -> bool:
        return self.low is not None

    @property
    def size(self) -> int:
        return 0 if self.high is None or self.low is None else self.high - self.low + 1

    def require(self, count: int, what: str) -> None:
        """PortsError unless the range (when one was given) holds ``count`` ports."""
        if self.placed and self.size < count:
            raise PortsError(
                f"{what} listens on {count} ports; {self} holds {self.size}: widen the range"
            )

    def take(self) -> int:
        """The next port for a server to listen on; PortsError when the range is used up."""
        if self.low is None or self.high is None:
            port = free_port(HOST)
        else:
            start = self.taken[-1] + 1 if self.taken else self.low
            port = next((p for p in range(start, self.high + 1) if _bindable(p)), 0)
            if not port:
                raise PortsError(f"no free port left in {self} (taken: {self.taken})")
        self.taken.append(port)
        return port

    def __str__(self) -> str:
        if self.low is None:
            return "any free port"
        return f"{self.low}-{self.high}" if self.high != self.low else str(self.low)
