"""An SMSC.ru-compatible HTTP server for tests: send.php, status.php, balance.php on loopback.

Behaviour is scripted per call: ``send_script`` holds what the next send.php calls do
("accept", "accept_hang", "hang", "slow", "500", "error:N", "garbage"); once it is empty,
``default`` applies. Accepted messages are kept so tests can count what really went out.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.embedded import free_port

LOGIN, PASSWORD = "clinic", "s3cret-pass"
OUR_NUMBER = "79990001122"  # the dedicated number relatives reply to


def _md5(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode()).hexdigest()


def incoming_form(msg_id: int | str, phone: str, text: str) -> dict[str, str]:
    """What SMSC POSTs for an incoming SMS: the sender's number without "+", and its md5."""
    digits = phone.lstrip("+")
    return {
        "id": str(msg_id), "phone": digits, "mes": text, "to": OUR_NUMBER,
        "sent": str(int(time.time())), "time": str(int(time.time())),
        "md5": _md5(digits, text, OUR_NUMBER, PASSWORD),
    }  # fmt: skip


def status_form(msg_id: int | str, phone: str, status: int) -> dict[str, str]:
    """What SMSC POSTs when a message's status changes (``id`` is the one we sent it with)."""
    digits = phone.lstrip("+")
    return {
        "id": str(msg_id), "phone": digits, "status": str(status), "err": "0",
        "time": str(int(time.time())), "ts": str(int(time.time())),
        "md5": _md5(str(msg_id), digits, str(status), PASSWORD),
    }  # fmt: skip


@dataclass
class Accepted:
    phone: str
    text: str
    id: str
    polls: int = 0


@dataclass
class FakeSmsc:
    hang: float = 1.2
    slow: float = 0.15
    default: str = "accept"
    send_script: deque[str] = field(default_factory=deque)
    status_script: deque[int | str] = field(default_factory=deque)
    final_status: int = 1
    balance: str = "1500.50"
    messages: list[Accepted] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.default, self.final_status, self.balance = "accept", 1, "1500.50"
            self.send_script.clear()
            self.status_script.clear()
            self.messages.clear()
            self.calls.clear()

    def sent_to(self, phone: str) -> list[Accepted]:
        with self.lock:
            return [m for m in self.messages if m.phone == phone]

    async def _form(self, request: Request, name: str) -> dict[str, str] | Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        with self.lock:
            self.calls.append((name, form.get("id", "")))
        if form.get("fmt") != "3" or form.get("charset") != "utf-8":
            return JSONResponse({"error": "parameters error", "error_code": 1})
        if form.get("login") != LOGIN or form.get("psw") != PASSWORD:
            return JSONResponse({"error": "authorise error", "error_code": 2})
        return form

    async def send(self, request: Request) -> Response:
        form = await self._form(request, "send")
        if isinstance(form, Response):
            return form
        with self.lock:
            action = self.send_script.popleft() if self.send_script else self.default
        if action.startswith("error:"):
            code = int(action.split(":")[1])
            return JSONResponse({"error": "scripted", "error_code": code, "id": form["id"]})
        if action == "500":
            return Response("internal error", status_code=500)
        if action == "garbage":
            return Response("<html>", status_code=200)
        if action == "hang":
            await asyncio.sleep(self.hang)
            return Response("late", status_code=504)
        if action == "slow":
            await asyncio.sleep(self.slow)
        with self.lock:
            self.messages.append(Accepted(form["phones"], form["mes"], form["id"]))
        if action == "accept_hang":
            await asyncio.sleep(self.hang)  # accepted, but the answer comes too late
        return JSONResponse({"id": int(form["id"]), "cnt": 1})

    async def status(self, request: Request) -> Response:
        form = await self._form(request, "status")
        if isinstance(form, Response):
            return form
        with self.lock:
            scripted = self.status_script.popleft() if self.status_script else None
            if scripted == "500":
                return Response("oops", status_code=500)
            found = [m for m in self.messages if m.phone == form["phone"] and m.id == form["id"]]
            if not found:
                return JSONResponse({"error": "message not found", "error_code": 3})
            msg = found[-1]
            msg.polls += 1
            if isinstance(scripted, int):
                status = scripted
            else:
                status = [-1, 0, self.final_status][min(msg.polls - 1, 2)]
        return JSONResponse({"status": status, "last_timestamp": int(time.time()), "err": 0})

    async def get_balance(self, request: Request) -> Response:
        form = await self._form(request, "balance")
        if isinstance(form, Response):
            return form
        return JSONResponse({"balance": self.balance, "currency": "RUR"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/sys/send.php", self.send, methods=["POST"]),
                Route("/sys/status.php", self.status, methods=["POST"]),
                Route("/sys/balance.php", self.get_balance, methods=["POST"]),
            ]
        )


class ServerThread:
    """uvicorn in its own thread and loop, so a hanging answer never blocks the tests' loop."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            loop="asyncio",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sys/"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("fake SMSC did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
