"""The pure core: phones, crypto, vitals, composition and segments, schedule, lifecycle."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sms_helpers import KEY

from engine.errors import ConfigError
from notifier.compose import compose, segments
from notifier.crypto import PhoneCipher
from notifier.errors import IllegalTransition, ImplausibleValue, InvalidInput, InvalidPhone
from notifier.lifecycle import TRANSITIONS, Delivery, State, advance, backoff, moves_forward
from notifier.phones import mask, normalise
from notifier.providers import open_gateway
from notifier.schedule import PatientStatus, change_status, plan, release
from notifier.settings import HospitalSchedule, NotifierSettings
from notifier.vitals import Dynamics, Observation, assess, merge, validate

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MSK = HospitalSchedule(
    tz="Europe/Moscow", send_at=time(18, 0), quiet_start=time(21, 0), quiet_end=time(9, 0)
)


@pytest.mark.parametrize(
    "raw", ["8 916 123-45-67", "+7 (916) 123 45 67", "9161234567", "89161234567"]
)
def test_russian_numbers_normalise_to_e164(raw: str) -> None:
    """Russian numbers in any common spelling become +7 E.164."""
    assert normalise(raw) == "+79161234567"


@pytest.mark.parametrize("raw", ["", "123", "abc", "+7 495 123-45-67", "+7 916 123"])
def test_bad_or_landline_numbers_are_refused(raw: str) -> None:
    """Empty, short, garbage and landline numbers are refused without echoing the number."""
    with pytest.raises(InvalidPhone) as err:
        normalise(raw)
    assert err.value.status == 422 and (not raw or raw not in err.value.message)


def test_mask_shows_country_and_last_four_digits() -> None:
    """Masks look like +7 *** ***-12-34."""
    assert mask("+79161231234") == "+7 *** ***-12-34"
    assert mask(normalise("+44 7911 123456")) == "+44 *** ***-34-56"


def test_phone_cipher_round_trips_and_hides_the_number() -> None:
    """Ciphertext hides the digits, differs each time, and needs the right key."""
    cipher = PhoneCipher(KEY)
    a, b = cipher.encrypt("+79161234567"), cipher.encrypt("+79161234567")
    assert a != b and b"9161234567" not in a
    assert cipher.decrypt(a) == "+79161234567"
    assert cipher.fingerprint("+79161234567") == PhoneCipher(KEY).fingerprint("+79161234567")
    with pytest.raises(Exception, match="does not match"):
        PhoneCipher(bytes(32)).decrypt(a)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": 52.0},
        {"temperature": float("nan")},
        {"pulse": 7},
        {"spo2": 101},
        {"blood_pressure": (80, 120)},
        {"respiratory_rate": 200},
    ],
)
def test_impossible_values_are_refused(kwargs: dict[str, object]) -> None:
    """Values no living patient has are refused, naming the field and range, not the value."""
    with pytest.raises(ImplausibleValue) as err:
        validate(Observation(measured_at=NOW, **kwargs), NOW)  # type: ignore[arg-type]
    assert err.value.status == 422
    assert all(str(v) not in err.value.message for v in kwargs.values())


def test_empty_future_or_naive_observations_are_refused() -> None:
    """An observation needs a value, an offset, and a time not in the future."""
    for obs in (
        Observation(measured_at=NOW),
        Observation(measured_at=NOW + timedelta(hours=1), pulse=80),
        Observation(measured_at=NOW.replace(tzinfo=None), pulse=80),
    ):
        with pytest.raises(InvalidInput):
            validate(obs, NOW)


def test_latest_reading_per_field_and_staleness() -> None:
    """Each field keeps its newest reading; old ones are stale; absent ones missing."""
    old = Observation(measured_at=NOW - timedelta(hours=20), pulse=70, temperature=36.6)
    new = Observation(measured_at=NOW - timedelta(hours=1), temperature=37.9)
    got = assess(merge([new, old]), NOW, timedelta(hours=12))
    assert (got["temperature"].state, got["temperature"].value) == ("ok", 37.9)
    assert (got["pulse"].state, got["pulse"].value) == ("stale", 70)
    assert got["spo2"].state == "missing"


def _vitals(**kw: object) -> dict[str, object]:
    obs = Observation(measured_at=NOW - timedelta(hours=1), **kw)  # type: ignore[arg-type]
    return assess(merge([obs]), NOW, timedelta(hours=12))  # type: ignore[return-value]


FULL = {
    "temperature": 37.2,
    "pulse": 88,
    "blood_pressure": (120, 80),
    "spo2": 97,
    "heart_rate": 88,
    "respiratory_rate": 18,
    "conscious": True,
    "ventilator": False,
    "dynamics": Dynamics.POSITIVE,
}


def test_russian_message_golden() -> None:
    """The Russian message says every value, in Russian number format, within 4 segments."""
    msg = compose(
        language="ru",
        local_date=date(2024, 6, 1),
        vitals=_vitals(**FULL),  # type: ignore[arg-type]
        max_segments=4,
        patient="Иванов И.И.",
        hospital="ГКБ 1",
    )
    assert msg.text == (
        "ГКБ 1. Иванов И.И., состояние на 01.06.2024.\n"
        "Температура: 37,2 °C\nПульс: 88 уд/мин\nДавление: 120/80 мм рт. ст.\n"
        "Сатурация: 97%\nЧСС: 88 уд/мин\nЧДД: 18 в мин\nСознание: в сознании\n"
        "ИВЛ: нет\nДинамика: положительная"
    )
    assert (msg.segments.encoding, msg.segments.count, msg.style) == ("ucs2", 4, "full")


def test_unmeasured_values_are_said_so_never_invented() -> None:
    """Only temperature measured: everything else reads as not measured / no data."""
    msg = compose(
        language="en",
        local_date=date(2024, 6, 1),
        vitals=_vitals(temperature=36.6),  # type: ignore[arg-type]
        max_segments=3,
    )
    assert "Temperature: 36.6 C" in msg.text
    assert msg.text.count("not measured") == 5 and msg.text.count("not assessed") == 3
    assert not any(ch.isdigit() for ch in msg.text.split("Temperature")[1].split("\n", 2)[2])


def test_english_message_is_gsm7() -> None:
    """The English text stays in GSM-7 (160/153 per part)."""
    msg = compose(
        language="en",
        local_date=date(2024, 6, 1),
        vitals=_vitals(**FULL),  # type: ignore[arg-type]
        max_segments=3,
    )
    assert msg.segments.encoding == "gsm7" and msg.segments.count == 2


def test_long_message_shortens_to_fit_max_segments() -> None:
    """When the full Russian text needs more parts, the short style is used."""
    msg = compose(
        language="ru",
        local_date=date(2024, 6, 1),
        vitals=_vitals(**FULL),  # type: ignore[arg-type]
        max_segments=2,
        patient="Иванов И.И.",
    )
    assert msg.style == "short" and msg.segments.count == 2
    assert "Т 37,2" in msg.text and "АД 120/80" in msg.text


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),
        ("a" * 152 + "€" + "a" * 10, "gsm7", 164, 2),
        ("a" * 152 + "[" + "a" * 153, "gsm7", 307, 3),  # the escape pair is not split
        ("я" * 70, "ucs2", 70, 1),
        ("я" * 71, "ucs2", 71, 2),
        ("я" * 134, "ucs2", 134, 2),
        ("я" * 135, "ucs2", 135, 3),
        ("a" * 100 + "ж", "ucs2", 101, 2),  # one Cyrillic letter forces UCS-2
        ("😀" * 35, "ucs2", 70, 1),
    ],
)
def test_segment_counts(text: str, encoding: str, units: int, count: int) -> None:
    """GSM-7 160/153 with extension chars costing 2; UCS-2 70/67."""
    got = segments(text)
    assert (got.encoding, got.units, got.count) == (encoding, units, count)


@given(st.text(alphabet="abc€я", max_size=400))
def test_segments_never_fewer_than_capacity_allows(text: str) -> None:
    """Parts are enough to hold the units and never more than one extra."""
    got = segments(text)
    per = (
        (153 if got.units > 160 else 160)
        if got.encoding == "gsm7"
        else (67 if got.units > 70 else 70)
    )
    assert got.count * per >= got.units
    assert got.count <= max(1, -(-got.units // per) + got.units // per // 60 + 1)


def test_plan_due_at_send_time_and_held_through_quiet_hours() -> None:
    """Before 18:00 the open slot is yesterday's; a due time in quiet hours waits till 09:00."""
    since = NOW - timedelta(days=5)
    at_noon_msk = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
    got = plan(at_noon_msk, MSK, PatientStatus.ADMITTED, since)
    assert got is not None and got.local_date == date(2024, 5, 31)
    late = HospitalSchedule(
        tz="Europe/Moscow", send_at=time(22, 0), quiet_start=time(21, 0), quiet_end=time(9, 0)
    )
    got = plan(datetime(2024, 6, 1, 20, 0, tzinfo=UTC), late, PatientStatus.ADMITTED, since)
    assert got is not None and got.local_date == date(2024, 6, 1)
    assert got.not_before == datetime(2024, 6, 2, 6, 0, tzinfo=UTC)  # 09:00 Moscow


def test_release_outside_quiet_hours_is_identity() -> None:
    """Outside quiet hours a moment is left as it is; inside, it moves to the end."""
    assert release(datetime(2024, 6, 1, 12, tzinfo=UTC), MSK) == datetime(
        2024, 6, 1, 12, tzinfo=UTC
    )
    assert release(datetime(2024, 6, 1, 2, tzinfo=UTC), MSK) == datetime(2024, 6, 1, 6, tzinfo=UTC)


@pytest.mark.parametrize("status", [s for s in PatientStatus if s is not PatientStatus.ADMITTED])
def test_no_plan_unless_admitted(status: PatientStatus) -> None:
    """Discharged, transferred and deceased patients get no message."""
    assert plan(NOW, MSK, status, NOW - timedelta(days=3)) is None


def test_death_stops_and_alerts_and_is_final() -> None:
    """Death stops sending and alerts once; nothing follows it."""
    change = change_status(PatientStatus.ADMITTED, PatientStatus.DECEASED)
    assert change.stop_sending and change.alert_attending
    assert not change_status(PatientStatus.DECEASED, PatientStatus.DECEASED).alert_attending
    with pytest.raises(IllegalTransition):
        change_status(PatientStatus.DECEASED, PatientStatus.ADMITTED)


def test_lifecycle_table_and_illegal_moves() -> None:
    """Terminal states take no events; an illegal move raises one named error."""
    assert advance("pending", "claim") is State.SENDING
    assert advance("unknown", "not_found") is State.PENDING
    for terminal in (State.FAILED, State.CANCELLED, State.UNDELIVERED):
        assert TRANSITIONS[terminal] == {}
    with pytest.raises(IllegalTransition):
        advance("unknown", "claim")  # never straight from unknown to a new send


def test_delivery_status_moves_forward_only() -> None:
    """queued < at operator < final; read after delivered; nothing after a failure."""
    d = Delivery
    assert moves_forward(None, d.QUEUED) and moves_forward(d.QUEUED, d.AT_OPERATOR)
    assert moves_forward(d.AT_OPERATOR, d.DELIVERED) and moves_forward(d.DELIVERED, d.READ)
    assert not moves_forward(d.AT_OPERATOR, d.QUEUED) and not moves_forward(d.READ, d.DELIVERED)
    assert not moves_forward(d.UNDELIVERABLE, d.DELIVERED)
    assert not moves_forward(None, None) and not moves_forward(d.QUEUED, None)


def test_backoff_is_exponential_and_capped() -> None:
    """5 s, 10 s, 20 s ... up to the cap."""
    base, cap = timedelta(seconds=5), timedelta(seconds=30)
    assert [backoff(n, base, cap).total_seconds() for n in range(1, 6)] == [5, 10, 20, 30, 30]


def test_pure_modules_import_no_io_libraries() -> None:
    """The core and the gateway protocol import no asyncio, asyncpg, httpx, starlette or redis."""
    code = (
        "import sys; import notifier.compose, notifier.schedule, notifier.vitals,"
        " notifier.lifecycle, notifier.phones, notifier.gateway, notifier.replies;"
        " print(','.join(m for m in ('asyncio','asyncpg','httpx','starlette','redis')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_an_unknown_sms_provider_fails_at_start_up() -> None:
    """A provider name no adapter answers to is a ConfigError naming the known ones."""
    with pytest.raises(ConfigError, match=r"'nope' .*known: smsc"):
        open_gateway(NotifierSettings(sms_provider="nope", encryption_key=KEY))
