"""What the worker needs from an SMS provider, as a protocol and provider-neutral verdicts.

An adapter (``gateway_smsc``) maps its provider's codes onto these plain values and never raises
for a provider's answer; ``providers`` picks the adapter the settings name. The verdicts:

    send    ──▶ Sent | Refused (permanently: bad number, forbidden, our fault)
                     | RetryLater (certainly not taken) | Unknown (maybe taken: check first)
    status  ──▶ Known (with a Delivery) | NotFound (never taken) | Unreachable
    balance ──▶ Balance | Unreachable
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from notifier.lifecycle import Delivery


@dataclass(frozen=True, slots=True)
class Alert:
    """A problem people must look at; one ``scope`` alerts once a day, no scope once a message."""

    kind: str
    message: str
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    parts: int
    cost: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """Refused for good: never retried; ``bad_number`` when this number will never receive it."""

    reason: str
    bad_number: bool = False
    alert: Alert | None = None


@dataclass(frozen=True, slots=True)
class RetryLater:
    """The provider certainly did not take the message (connection refused, told to wait)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """The provider may have taken it (time-out, 5xx, a garbled answer): ask before resending."""

    reason: str


SendVerdict = Sent | Refused | RetryLater | Unknown


@dataclass(frozen=True, slots=True)
class Known:
    """The provider has the message; ``delivery`` is None for a status we do not recognise."""

    delivery: Delivery | None
    detail: str


@dataclass(frozen=True, slots=True)
class NotFound:
    """The provider does not know this id for this number: it was never taken."""


@dataclass(frozen=True, slots=True)
class Unreachable:
    """No answer about the message (or the balance) this time."""

    reason: str
    alert: Alert | None = None


StatusVerdict = Known | NotFound | Unreachable


@dataclass(frozen=True, slots=True)
class Balance:
    amount: Decimal
    currency: str


class SmsGateway(Protocol):
    """One SMS provider. ``message_id`` is ours, stable across retries, so ``status`` finds it."""

    @property
    def name(self) -> str:
        """The provider's name as people know it, for alerts and logs."""
        ...

    async def send(self, phone: str, text: str, message_id: int) -> SendVerdict: ...

    async def status(self, phone: str, message_id: int) -> StatusVerdict: ...

    async def balance(self) -> Balance | Unreachable: ...

    async def aclose(self) -> None: ...
