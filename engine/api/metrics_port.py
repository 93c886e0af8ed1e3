"""One process's metrics on a port of its own, for Prometheus to scrape each process.

Engine workers share their port (uvicorn's workers) and so do push processes (SO_REUSEPORT):
a scrape through it reaches one process at random, and each process counts on its own, so a
counter read through it jumps between processes and ``rate()`` sees resets that never happened.
Each process therefore also answers ``GET /metrics`` on a port of its own: the first free one of
a small range (``CLINICQ_METRICS_PORT`` and the next ``CLINICQ_WORKERS - 1`` for the engine; one
per push process), so a restarted process takes the port its predecessor left.

Plain HTTP/1.1, one request a connection, nothing but ``GET /metrics``; who may read it is the
caller's ``answer`` (``CLINICQ_METRICS``, as on the main port).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
MAX_HEAD = 8192
READ_SECONDS = 5.0


class Answer:
    """What ``answer`` returns: a status, a content type and a body."""

    def __init__(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.status, self.body, self.content_type = status, body, content_type


# answer(client address, the request's Authorization header or None)
Answerer = Callable[[str | None, str | None], Awaitable[Answer]]


async def _respond(writer: asyncio.StreamWriter, answer: Answer) -> None:
    reason = http.HTTPStatus(answer.status).phrase
    head = (
        f"HTTP/1.1 {answer.status} {reason}\r\nContent-Type: {answer.content_type}\r\n"
        f"Content-Length: {len(answer.body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + answer.body)
    await writer.drain()


def _handler(
    answer: Answerer,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, _, rest = lines[0].partition(" ")
            path = rest.partition(" ")[0].partition("?")[0]
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            if method != "GET" or path != "/metrics":
                await _respond(writer, Answer(404, b"only GET /metrics here\n"))
                return
            peer = writer.get_extra_info("peername")
            client = peer[0] if isinstance(peer, tuple) else None
            await _respond(writer, await answer(client, headers.get("authorization")))
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            with contextlib.suppress(OSError):
                await _respond(writer, Answer(400, b"bad request\n"))
        except OSError:
            pass  # the scraper went away
        except Exception:
            log.exception("metrics port: answer failed")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    return handle


async def serve_metrics(host: str, ports: range, answer: Answerer) -> asyncio.Server | None:
    """Listen on the first port of ``ports`` that is free; None (logged) when none is."""
    for port in ports:
        try:
            return await asyncio.start_server(_handler(answer), host, port, limit=MAX_HEAD)
        except OSError:
            continue
    log.warning("no free metrics port in %d-%d on %s", ports.start, ports.stop - 1, host)
    return None


def bound_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port
