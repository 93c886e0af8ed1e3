"""SMSC.ru HTTP gateway (send.php, status.php, balance.php) over one httpx AsyncClient.

Every call is a POST with ``fmt=3`` (JSON) and ``charset=utf-8``, so neither the password nor
the phone number ever appears in a URL (httpx logs URLs). Results are plain values, not
exceptions: the worker maps them onto the outbox lifecycle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accepted:
    parts: int
    cost: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    code: int


@dataclass(frozen=True, slots=True)
class NotSent:
    """The request certainly never reached SMSC (connection refused, pool exhausted)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """SMSC may have accepted it (read time-out, 5xx, a garbled answer)."""

    reason: str


SendResult = Accepted | Rejected | NotSent | Ambiguous


@dataclass(frozen=True, slots=True)
class Found:
    status: int


@dataclass(frozen=True, slots=True)
class Missing:
    """SMSC does not know this id for this number: it was never accepted."""


@dataclass(frozen=True, slots=True)
class Unavailable:
    reason: str
    code: int | None = None


StatusResult = Found | Missing | Unavailable


@dataclass(frozen=True, slots=True)
class Balance:
    amount: Decimal
    currency: str


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class SmscGateway:
    """A small client for SMSC.ru; ``base_url`` is e.g. ``https://smsc.ru/sys/``."""

    def __init__(
        self,
        base_url: str,
        login: str,
        password: str,
        *,
        sender: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._auth = {"login": login, "psw": password}
        self._sender = sender
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": "clinicq-notifier"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, form: dict[str, str]) -> httpx.Response:
        data = {**self._auth, **form, "fmt": "3", "charset": "utf-8"}
        return await self._client.post(path, data=data)

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any] | None:
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def send(self, phone: str, text: str, message_id: int) -> SendResult:
        """send.php with our own ``id``, so status.php can later find this very message."""
        form = {"phones": phone, "mes": text, "id": str(message_id)}
        if self._sender:
            form["sender"] = self._sender
        try:
            response = await self._post("send.php", form)
        except _NOT_SENT as exc:
            return NotSent(type(exc).__name__)
        except httpx.TransportError as exc:
            return Ambiguous(type(exc).__name__)
        if response.status_code != 200:
            return Ambiguous(f"http {response.status_code}")
        body = self._json(response)
        if body is None:
            return Ambiguous("unreadable answer")
        if "error_code" in body:
            try:
                return Rejected(int(body["error_code"]))
            except (TypeError, ValueError):
                return Ambiguous("unreadable error code")
        if "id" in body:
            cost = body.get("cost")
            return Accepted(int(body.get("cnt", 1) or 1), None if cost is None else str(cost))
        return Ambiguous("answer without id or error")

    async def status(self, phone: str, message_id: int) -> StatusResult:
        """status.php for one message; SMSC answers error 3 or status -3 when it is unknown."""
        try:
            response = await self._post("status.php", {"phone": phone, "id": str(message_id)})
        except httpx.TransportError as exc:
            return Unavailable(type(exc).__name__)
        if response.status_code != 200:
            return Unavailable(f"http {response.status_code}")
        body = self._json(response)
        if body is None:
            return Unavailable("unreadable answer")
        if "error_code" in body:
            code = int(body["error_code"])
            return Missing() if code == 3 else Unavailable("smsc error", code)
        try:
            status = int(body["status"])
        except (KeyError, TypeError, ValueError):
            return Unavailable("answer without status")
        return Missing() if status == -3 else Found(status)

    async def balance(self) -> Balance | Unavailable:
        try:
            response = await self._post("balance.php", {"cur": "1"})
        except httpx.TransportError as exc:
            return Unavailable(type(exc).__name__)
        body = self._json(response) if response.status_code == 200 else None
        if body is None:
            return Unavailable(f"http {response.status_code}")
        if "error_code" in body:
            return Unavailable("smsc error", int(body["error_code"]))
        try:
            return Balance(Decimal(str(body["balance"])), str(body.get("currency", "")))
        except (KeyError, InvalidOperation):
            return Unavailable("answer without balance")
