"""A loopback TCP ESC/POS printer: records what it receives, answers DLE EOT by scenario."""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Final

DLE_EOT: Final = b"\x10\x04"

# Status bytes as an Epson printer sends them (fixed bits 0x12 included).
ONLINE: Final = 0x12
OFFLINE: Final = 0x1A
CAUSE_NONE: Final = 0x12
CAUSE_COVER_OPEN: Final = 0x16
CAUSE_PAPER_END: Final = 0x32
PAPER_ADEQUATE: Final = 0x12
PAPER_NEAR_END: Final = 0x1E
PAPER_OUT: Final = 0x72

SCENARIOS: Final = {
    # name: replies to DLE EOT 1, 2 and 4; None means the printer stays silent
    "online": (ONLINE, CAUSE_NONE, PAPER_ADEQUATE),
    "near_end": (ONLINE, CAUSE_NONE, PAPER_NEAR_END),
    "paper_out": (OFFLINE, CAUSE_PAPER_END, PAPER_OUT),
    "offline": (OFFLINE, CAUSE_NONE, PAPER_ADEQUATE),
    "cover_open": (OFFLINE, CAUSE_COVER_OPEN, PAPER_ADEQUATE),
    "silent": (None, None, None),  # reads everything, never answers a status query
    "deaf": (None, None, None),  # accepts the connection and never reads from it
    "once": (ONLINE, CAUSE_NONE, PAPER_ADEQUATE),  # answers ``answers`` queries, then silence
    "drop": (ONLINE, CAUSE_NONE, PAPER_ADEQUATE),  # and the connection is reset mid-job
}


@dataclass
class FakePrinter:
    """Listens on 127.0.0.1; ``jobs`` holds the bytes of each connection minus status queries."""

    scenario: str = "online"
    drop_after: int = 40  # job bytes received before a "drop" connection is reset
    drops_left: int | None = None  # after this many drops behave as "online"; None: always
    answers: int = 3  # status replies a "once" printer gives (one query round) before silence
    jobs: list[bytes] = field(default_factory=list)
    queries: list[bytes] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}?timeout=1&status_timeout=0.2"

    def close(self) -> None:
        self._stop.set()
        self._accepter.join()
        for thread in self._threads:
            thread.join()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            scenario = self.scenario
            if scenario == "drop" and self.drops_left is not None:
                if self.drops_left <= 0:
                    scenario = "online"
                else:
                    self.drops_left -= 1
            replies = SCENARIOS[scenario]
            if scenario == "deaf":
                with self._lock:
                    self.jobs.append(b"")  # nothing is ever read: the kernel buffers it all
                self._stop.wait()
                return
            pending = b""
            job = bytearray()
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                pending += chunk
                pending = self._answer(conn, pending, job, replies)
                if scenario == "drop" and len(job) >= self.drop_after:
                    del job[self.drop_after :]
                    # SO_LINGER 0: close with a reset, as a printer that loses power does.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
            job += pending
            with self._lock:
                self.jobs.append(bytes(job))

    def _answer(
        self,
        conn: socket.socket,
        pending: bytes,
        job: bytearray,
        replies: tuple[int | None, ...],
    ) -> bytes:
        """Move ``pending`` into ``job``, answering each DLE EOT n; returns an incomplete tail."""
        while True:
            at = pending.find(DLE_EOT)
            if at < 0:
                keep = 1 if pending.endswith(b"\x10") else 0
                job += pending[: len(pending) - keep]
                return pending[len(pending) - keep :]
            if at + 2 >= len(pending):
                job += pending[:at]
                return pending[at:]
            job += pending[:at]
            n = pending[at + 2]
            with self._lock:
                self.queries.append(pending[at : at + 3])
            reply = {1: replies[0], 2: replies[1], 4: replies[2]}.get(n)
            if self.scenario == "once":
                with self._lock:
                    self.answers -= 1
                    reply = reply if self.answers >= 0 else None
            if reply is not None:
                conn.sendall(bytes([reply]))
            pending = pending[at + 3 :]
