"""SMSC.ru HTTP gateway (send.php, status.php, balance.php) over one httpx AsyncClient.

Every call is a POST with ``fmt=3`` (JSON) and ``charset=utf-8``, so neither the password nor
the phone number ever appears in a URL (httpx logs URLs). SMSC's numeric codes stop here: each
answer becomes one of ``notifier.gateway``'s provider-neutral verdicts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from notifier.gateway import (
    Alert,
    Balance,
    Known,
    NotFound,
    Refused,
    RetryLater,
    SendVerdict,
    Sent,
    StatusVerdict,
    Unknown,
    Unreachable,
)
from notifier.lifecycle import Delivery

log = logging.getLogger(__name__)

NAME = "SMSC"


def _refused(
    code: int, *, bad_number: bool = False, alert: bool = False, scope: bool = False
) -> Refused:
    reason = f"smsc error {code}"
    message = f"SMSC refused a message with error {code}; nothing was retried."
    found = Alert(f"smsc_error_{code}", message, str(code) if scope else None) if alert else None
    return Refused(reason, bad_number=bad_number, alert=found)


# send.php error codes (https://smsc.ru/api/http/send/sms/). Account-wide problems (login, funds)
# alert once a day, not once a message.
SEND_ERRORS: dict[int, SendVerdict] = {
    1: _refused(1, alert=True),  # parameter error: our bug
    2: _refused(2, alert=True, scope=True),  # wrong login or password
    3: _refused(3, alert=True, scope=True),  # not enough money
    4: RetryLater("smsc error 4"),  # IP blocked for a while after errors
    5: _refused(5, alert=True),  # bad date format
    6: _refused(6, bad_number=True),  # message forbidden (text or sender name)
    7: _refused(7, bad_number=True),  # bad phone number format
    8: _refused(8, bad_number=True),  # cannot be delivered to this number
    # Too many identical requests: the earlier identical one may have been accepted, so the
    # retry goes through status.php first rather than straight to send.php.
    9: Unknown("smsc error 9"),
}


def send_error(code: int) -> SendVerdict:
    """An unlisted code is refused for good, without an alert."""
    return SEND_ERRORS.get(code, _refused(code))


# status.php message statuses; -3 (not found) is answered as NotFound before this table.
STATUSES: dict[int, Delivery] = {
    -1: Delivery.QUEUED,
    0: Delivery.AT_OPERATOR,
    1: Delivery.DELIVERED,
    2: Delivery.READ,
    3: Delivery.EXPIRED,
    4: Delivery.LINK_OPENED,
    20: Delivery.UNDELIVERABLE,
    22: Delivery.INVALID_NUMBER,
    23: Delivery.PROHIBITED,
    24: Delivery.NO_FUNDS,
    25: Delivery.UNAVAILABLE,
}
BAD_LOGIN = 2
UNKNOWN_ID = 3  # status.php error: no such message for this number


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class _NoAnswer:
    """Why a call got no readable answer; ``not_sent``: the request certainly never left."""

    reason: str
    not_sent: bool = False


class SmscGateway:
    """A small client for SMSC.ru; ``base_url`` is e.g. ``https://smsc.ru/sys/``."""

    name = NAME

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

    async def _ask(self, path: str, form: dict[str, str]) -> dict[str, Any] | _NoAnswer:
        """SMSC's JSON object for one call, or why there is none (each caller's verdict differs)."""
        try:
            response = await self._post(path, form)
        except httpx.TransportError as exc:
            return _NoAnswer(type(exc).__name__, not_sent=isinstance(exc, _NOT_SENT))
        if response.status_code != 200:
            return _NoAnswer(f"http {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        return body if isinstance(body, dict) else _NoAnswer("unreadable answer")

    async def send(self, phone: str, text: str, message_id: int) -> SendVerdict:
        """send.php with our own ``id``, so status.php can later find this very message."""
        form = {"phones": phone, "mes": text, "id": str(message_id)}
        if self._sender:
            form["sender"] = self._sender
        body = await self._ask("send.php", form)
        if isinstance(body, _NoAnswer):
            return RetryLater(body.reason) if body.not_sent else Unknown(body.reason)
        if "error_code" in body:
            try:
                return send_error(int(body["error_code"]))
            except (TypeError, ValueError):
                return Unknown("unreadable error code")
        if "id" in body:
            cost = body.get("cost")
            return Sent(int(body.get("cnt", 1) or 1), None if cost is None else str(cost))
        return Unknown("answer without id or error")

    async def status(self, phone: str, message_id: int) -> StatusVerdict:
        """status.php for one message; SMSC answers error 3 or status -3 when it is unknown."""
        body = await self._ask("status.php", {"phone": phone, "id": str(message_id)})
        if isinstance(body, _NoAnswer):
            return Unreachable(body.reason)
        if "error_code" in body:
            code = int(body["error_code"])
            if code == UNKNOWN_ID:
                return NotFound()
            alert = None
            if code == BAD_LOGIN:
                alert = Alert("smsc_error_2", "SMSC refused our login or password.", str(code))
            return Unreachable(f"smsc error {code}", alert)
        try:
            status = int(body["status"])
        except (KeyError, TypeError, ValueError):
            return Unreachable("answer without status")
        return NotFound() if status == -3 else Known(STATUSES.get(status), f"smsc status {status}")

    async def balance(self) -> Balance | Unreachable:
        body = await self._ask("balance.php", {"cur": "1"})
        if isinstance(body, _NoAnswer):
            return Unreachable(body.reason)
        if "error_code" in body:
            return Unreachable(f"smsc error {int(body['error_code'])}")
        try:
            return Balance(Decimal(str(body["balance"])), str(body.get("currency", "")))
        except (KeyError, InvalidOperation):
            return Unreachable("answer without balance")
