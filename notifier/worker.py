"""The sender worker (arq's shape): start-up, a consume loop under a semaphore, a graceful
drain, close; ``burst`` runs until nothing is due soon, which keeps tests deterministic.

Any number of workers, in any number of processes, may run at once: rows are claimed with
``FOR UPDATE SKIP LOCKED`` and results are recorded only by the holder of the claim token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from notifier.compose import segments
from notifier.crypto import PhoneCipher
from notifier.errors import MessageTooLong
from notifier.gateway import (
    Alert,
    Balance,
    Known,
    NotFound,
    Refused,
    RetryLater,
    Sent,
    SmsGateway,
    Unreachable,
)
from notifier.hospitals import daily_message
from notifier.hospitals_postgres import Hospitals
from notifier.lifecycle import Delivery, backoff
from notifier.metrics import SmsMetrics
from notifier.outbox import Cancel, Claim, Decision, DueRow, Hold, PollClaim, Reject, Send
from notifier.outbox_postgres import Outbox
from notifier.providers import open_gateway
from notifier.schedule import PatientStatus, Plan, plan, release
from notifier.settings import HospitalSchedule, NotifierSettings
from notifier.vitals import assess, merge

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def decide(
    row: DueRow, now: datetime, settings: NotifierSettings, sched: HospitalSchedule
) -> Decision:
    """Pure: what to do with a pending row at ``now`` (send, hold for quiet hours, cancel),
    under its hospital's schedule and wording."""
    if row.patient_status is not PatientStatus.ADMITTED:
        return Cancel(f"patient {row.patient_status.value}")
    if not row.relative_active:
        return Cancel("consent revoked")
    if row.bad_number:
        return Cancel("number marked bad")
    until = release(now, sched)
    if until > now:
        return Hold(until)
    if row.body is not None:  # a retry sends exactly the text first tried
        return Send(row.body, row.parts or segments(row.body).count)
    vitals = assess(merge(row.observations), now, settings.stale_after)
    try:
        message = daily_message(
            sched,
            language=row.language,
            local_date=row.local_date,
            vitals=vitals,
            max_segments=settings.max_segments,
            patient=row.patient_label,
        )
    except MessageTooLong as exc:
        return Reject(exc.message)
    return Send(message.text, message.segments.count)


class Worker:
    """Schedules today's rows, sends them, checks ambiguous ones, polls delivery, watches funds."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: NotifierSettings,
        *,
        gateway: SmsGateway | None = None,
        clock: Clock = utcnow,
        name: str = "sms-worker",
        metrics: SmsMetrics | None = None,
    ) -> None:
        self.settings = settings.validate()
        self.metrics = metrics
        if metrics is not None:
            metrics.balance_alert_below.set(settings.balance_alert_below)
        self.outbox = Outbox(pool, PhoneCipher(settings.encryption_key))
        self.hospitals = Hospitals(pool, settings.default_schedule)
        self._own_gateway = gateway is None
        self.gateway = gateway or open_gateway(settings)
        self.clock = clock
        self.name = name
        self._semaphore = asyncio.Semaphore(settings.concurrency)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_balance: datetime | None = None

    # -- scheduling ---------------------------------------------------------------------------

    def _plan(self, clinic: str, status: PatientStatus, consent_since: datetime) -> Plan | None:
        return plan(self.clock(), self.hospitals.schedule_for(clinic), status, consent_since)

    async def enqueue_due(self) -> int:
        await self.hospitals.refresh()
        created = await self.outbox.enqueue_due(self.clock(), self._plan)
        if created:
            log.info("%s: %d daily messages queued", self.name, created)
        return created

    # -- one pass -----------------------------------------------------------------------------

    async def tick(self) -> int:
        """Queue, claim and handle what is ready now; returns how many rows were handled."""
        await self.enqueue_due()
        await self._check_balance()
        now = self.clock()
        lease = self.settings.lease
        claims = await self.outbox.claim(
            now,
            limit=self.settings.batch,
            lease=lease,
            prepare=lambda row: decide(
                row, now, self.settings, self.hospitals.schedule_for(row.clinic)
            ),
        )
        polls = await self.outbox.claim_polls(now, limit=self.settings.batch, lease=lease)
        jobs = [self._guarded(self._handle(c)) for c in claims]
        jobs += [self._guarded(self._poll(p)) for p in polls]
        await asyncio.gather(*jobs)
        return len(jobs)

    async def _guarded(self, job: object) -> None:
        async with self._semaphore:
            try:
                await job  # type: ignore[misc]
            except Exception:
                # The row keeps its lease; once it expires it is re-checked via status.php.
                log.exception("%s: job failed; the row will be retried after its lease", self.name)

    async def _handle(self, claim: Claim) -> None:
        if claim.kind == "check":
            await self._check(claim)
        else:
            await self._send(claim)

    # -- send ---------------------------------------------------------------------------------

    async def _send(self, claim: Claim) -> None:
        if not await self.outbox.still_wanted(claim):
            await self.outbox.record(claim, "withdraw", self.clock(), "stopped before send")
            log.info("%s: outbox %d withdrawn before sending", self.name, claim.outbox_id)
            return
        result = await self.gateway.send(claim.phone, claim.body, claim.message_id)
        now = self.clock()
        s = self.settings
        self._count_send(result)
        if isinstance(result, Sent):
            await self.outbox.record(
                claim, "accepted", now, f"{result.parts} parts",
                sent_at=now, next_poll_at=now + s.first_poll, polls=0, lease_until=None,
            )  # fmt: skip
            log.info("%s: outbox %d accepted by %s", self.name, claim.outbox_id, self.gateway.name)
            return
        log.warning(
            "%s: outbox %d not accepted: %s (%s)",
            self.name, claim.outbox_id, result.reason, type(result).__name__,
        )  # fmt: skip
        if isinstance(result, Refused):
            await self._refused(claim, result, now)
            return
        retry = isinstance(result, RetryLater)
        if retry and claim.attempts >= s.max_attempts:
            await self._give_up(claim, result.reason)
            return
        event = "not_sent" if retry else "ambiguous"
        delay = backoff(claim.attempts, s.retry_base, s.retry_max)
        await self.outbox.record(
            claim, event, now, result.reason, next_attempt_at=now + delay, last_error=result.reason
        )

    def _count_send(self, result: object) -> None:
        if self.metrics is not None:
            outcome = {Sent: "accepted", Refused: "refused", RetryLater: "retry"}
            self.metrics.sent.labels(outcome.get(type(result), "unknown")).inc()

    def _count_delivery(self, delivery: Delivery | None) -> None:
        if self.metrics is not None:
            self.metrics.deliveries.labels(delivery.value if delivery else "unrecognised").inc()

    async def _refused(self, claim: Claim, result: Refused, now: datetime) -> None:
        await self.outbox.record(claim, "rejected", now, result.reason, last_error=result.reason)
        if result.bad_number:
            await self.outbox.mark_bad_number(claim, now, result.reason)
        if result.alert is not None:
            await self._alert(result.alert, now, str(claim.outbox_id), clinic=claim.clinic)

    async def _alert(self, alert: Alert, now: datetime, key: str, **kw: str) -> None:
        """Raise ``alert`` once per ``key``, or once a day for an alert with a scope."""
        if alert.scope is not None:
            key = f"{alert.scope}:{now.date()}"
        await self.outbox.alert(kind=alert.kind, key=key, message=alert.message, now=now, **kw)

    async def _give_up(self, claim: Claim, reason: str) -> None:
        now = self.clock()
        if self.metrics is not None:
            self.metrics.sent.labels("gave_up").inc()
        await self.outbox.record(claim, "gave_up", now, reason, last_error=reason)
        await self.outbox.alert(
            kind="gave_up",
            key=str(claim.outbox_id),
            message=f"Daily SMS abandoned after {claim.attempts} attempts ({reason}).",
            now=now,
            clinic=claim.clinic,
            patient_id=claim.patient_id,
        )

    # -- ambiguous rows: ask the provider before any new send -----------------------------------

    async def _check(self, claim: Claim) -> None:
        result = await self.gateway.status(claim.phone, claim.message_id)
        now = self.clock()
        s = self.settings
        if isinstance(result, Known):
            log.info("%s: outbox %d was accepted after all", self.name, claim.outbox_id)
            await self.outbox.record(
                claim, "found", now, f"found by {self.gateway.name}",
                sent_at=now, next_poll_at=now + s.first_poll, polls=0,
            )  # fmt: skip
            await self.outbox.record_delivery(
                claim, result.delivery, result.detail, now, now + s.first_poll
            )
            self._count_delivery(result.delivery)
        elif isinstance(result, NotFound):
            if not await self.outbox.still_wanted(claim):
                await self.outbox.record(
                    claim, "cancel", now, "not at the provider; no longer wanted"
                )
            elif claim.attempts >= s.max_attempts:
                await self._give_up(claim, f"not accepted by {self.gateway.name}")
            else:
                log.info(
                    "%s: outbox %d unknown to the provider; will send", self.name, claim.outbox_id
                )
                await self.outbox.record(
                    claim, "not_found", now, "not at the provider", next_attempt_at=now
                )
        else:
            if result.alert is not None:
                await self._alert(result.alert, now, str(claim.outbox_id))
            delay = backoff(claim.attempts, s.retry_base, s.retry_max)
            await self.outbox.record(
                claim, "check_failed", now, result.reason, next_attempt_at=now + delay
            )

    # -- delivery polling ---------------------------------------------------------------------

    async def _poll(self, claim: PollClaim) -> None:
        result = await self.gateway.status(claim.phone, claim.message_id)
        now = self.clock()
        s = self.settings
        next_poll = now + backoff(claim.polls + 1, s.poll_base, s.poll_max)
        if isinstance(result, Known):
            await self.outbox.record_delivery(claim, result.delivery, result.detail, now, next_poll)
            self._count_delivery(result.delivery)
            return
        # No status this time: counted as still queued, so the poll backs off as before.
        reason = "not found" if isinstance(result, NotFound) else result.reason
        await self.outbox.record_delivery(
            claim, Delivery.QUEUED, f"no status: {reason}", now, next_poll
        )

    # -- funds --------------------------------------------------------------------------------

    async def _check_balance(self) -> None:
        now = self.clock()
        if self._last_balance and now - self._last_balance < self.settings.balance_every:
            return
        self._last_balance = now
        result = await self.gateway.balance()
        provider = self.gateway.name
        if isinstance(result, Balance):
            if self.metrics is not None:
                self.metrics.balance.set(float(result.amount))
            if result.amount < self.settings.balance_alert_below:
                log.warning("%s: %s balance is below the alert threshold", self.name, provider)
                await self.outbox.alert(
                    kind="low_balance",
                    key=str(now.date()),
                    message=f"{provider} balance is low: {result.amount} {result.currency}.",
                    now=now,
                )
        elif isinstance(result, Unreachable):
            log.warning("%s: balance check failed: %s", self.name, result.reason)
            if self.metrics is not None:
                self.metrics.balance_failures.inc()

    # -- lifecycle ----------------------------------------------------------------------------

    async def run(self, *, burst: bool = False, horizon: timedelta = timedelta(seconds=5)) -> None:
        """Consume until stopped; in burst mode, until nothing is due within ``horizon``."""
        log.info("%s: started (burst=%s)", self.name, burst)
        while not self._stopping.is_set():
            handled = await self.tick()
            if handled:
                continue
            wake = await self.outbox.next_wakeup()
            now = self.clock()
            if burst and (wake is None or wake - now > horizon):
                break
            delay = self.settings.idle_sleep
            if wake is not None:
                delay = min(delay, max(0.0, (wake - now).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=max(delay, 0.01))
        log.info("%s: stopped", self.name)

    def start(self) -> Worker:
        self._task = asyncio.create_task(self.run(), name=self.name)
        return self

    def request_stop(self) -> None:
        """Ask ``run`` to return once the rows in hand are done (safe from a signal handler)."""
        self._stopping.set()

    async def stop(self) -> None:
        """Graceful drain: finish the rows in hand (their leases cover us), then return."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def close(self) -> None:
        await self.stop()
        if self._own_gateway:
            await self.gateway.aclose()


async def start_worker(
    pool: asyncpg.Pool,
    settings: NotifierSettings,
    *,
    gateway: SmsGateway | None = None,
    metrics: SmsMetrics | None = None,
) -> Worker:
    """Start a background worker on the engine's loop; pair with ``stop_worker``.

    Without ``gateway`` the worker opens the provider ``settings.sms_provider`` names."""
    return Worker(pool, settings, gateway=gateway, metrics=metrics).start()


async def stop_worker(worker: Worker) -> None:
    await worker.close()
