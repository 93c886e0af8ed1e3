"""What the SMS sender shows Prometheus: each send's outcome, the delivery reports it read, and
the provider's balance with the threshold of its own low-balance alert. Labels are short fixed lists (an outcome, a ``Delivery`` name).

The engine's app registers these on its own ``/metrics`` when it sends (``CLINICQ_SMSC_LOGIN``
set); ``clinicq sms send-due --loop --metrics-port N`` serves them on a port of their own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

# What became of one attempt to send: taken by the provider, refused for good, certainly not
# taken (retried), maybe taken (checked before any resend), abandoned after the last attempt.
OUTCOMES = ("accepted", "refused", "retry", "unknown", "gave_up")


class SmsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "clinicq_sms_sent",
            "Attempts to send a message, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            "clinicq_sms_deliveries",
            "Delivery reports read from the provider, by status",
            ["status"],
            registry=registry,
        )
        self.balance = Gauge(
            "clinicq_sms_balance",
            "The provider account's balance at the last check (its currency)",
            registry=registry,
        )
        self.balance.set(float("nan"))  # unknown until the first check: no alert on a zero
        self.balance_alert_below = Gauge(
            "clinicq_sms_balance_alert_below",
            "The balance below which the sender raises its low_balance alert",
            registry=registry,
        )
        self.balance_failures = Counter(
            "clinicq_sms_balance_check_failures",
            "Balance checks the provider did not answer",
            registry=registry,
        )
        for outcome in OUTCOMES:  # present from the start, so that rate() sees the first one
            self.sent.labels(outcome)
