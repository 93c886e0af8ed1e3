"""A booking is found at the kiosk as a patient types it: the code and the policy number
loosely (case, spaces, dashes, a Russian-layout slip; a reference with six digits or more by its
digits alone, since the keypad has no letters), a different number never. The reference rule
runs in the pure model and in Lua (check_in.lua) alike, both compared here."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import commands as c
from engine.errors import NotFound
from engine.model.booking import find_slot
from engine.model.matching import booking_code, patient_key
from engine.scripts import LUA_DIR
from tests.engine.drivers import LiveRules, PureRules, Rules
from tests.support import ClinicClient, MakeClinic, book_later_today, midday_zone

POLICY = "7700 123456"

# (as booked, as typed at the kiosk): each pair names the same patient.
SAME = [
    ("7700 123456", "7700123456"),
    ("7700 123456", " 7700-123 456 "),
    ("7700\u00a0123\u2013456", "7700123456"),
    ("полис 7700 123456", "ПОЛИС 7700123456"),
    # Six digits or more identify the reference: the words around them cannot be typed on the
    # kiosk's keypad (digits and R), so they do not count.
    ("полис 7700 123456", "7700123456"),
    ("полис ОМС № 7700-123456", "полис 7700123456"),
    ("тел. +7 (916) 123-45-67", "79161234567"),
    ("123456", "№ 123456"),
    ("Ёлкин АБ-12", "ёлкин аб12"),
    ("ab 12", "AB12"),
    ("ab 12345", "AB-12345"),
]
# Different patients: another number, another letter, a Latin letter for a Cyrillic look-alike.
OTHER = [
    ("7700 123456", "7700 123457"),
    ("7700 123456", "77001234567"),
    ("ab 12", "ac12"),
    ("АВ 12", "AB 12"),
    ("7700 123456", " - "),
    ("полис 7700 123456", "7700123457"),
    ("полис 7700 123456", "770012345"),
    ("полис 7700 123456", "полис"),
    ("тел. +7 (916) 123-45-67", "89161234567"),
    # Fewer than six digits: the letters still tell short codes apart.
    ("ab 12345", "12345"),
    ("ab 12345", "ac 12345"),
    # Only ASCII digits count: Arabic-Indic or full-width ones are characters like any other.
    ("\u0661\u0662\u0663\u0664\u0665\u0666", "123456"),
    ("\uff11\uff12\uff13\uff14\uff15\uff16", "123456"),
]


@pytest.fixture(params=["pure", pytest.param("live", marks=pytest.mark.integration)])
def rules(request: pytest.FixtureRequest) -> Rules:
    """The pure model, or the engine on real Redis and PostgreSQL (marked integration)."""
    if request.param == "pure":
        return PureRules()
    engine, clock = request.getfixturevalue("engine")
    return LiveRules(engine, clock)


async def _booked(rules: Rules, patient: str) -> str:
    rules.clock.set("2026-11-26T09:00:00")
    config = await rules.open()
    slot = find_slot(config, "d0.20261126.0930")
    assert slot is not None
    return str((await rules.run(c.Reserve(slot, patient, confirm=True)))["reservation"].id)


@pytest.mark.parametrize(("booked", "typed"), SAME)
async def test_a_reference_typed_loosely_checks_in(rules: Rules, booked: str, typed: str) -> None:
    """Spaces, dashes and letter case do not matter, in the pure rule and in Lua alike."""
    rid = await _booked(rules, booked)
    answer = await rules.run(c.CheckIn(rid, patient=typed))
    assert answer["reservation"].state == "checked_in"


@pytest.mark.parametrize(("booked", "typed"), OTHER)
async def test_another_reference_reads_as_not_found(rules: Rules, booked: str, typed: str) -> None:
    """A different number is not the patient's: "not found", as for an id that does not exist."""
    rid = await _booked(rules, booked)
    with pytest.raises(NotFound) as refused:
        await rules.run(c.CheckIn(rid, patient=typed))
    assert refused.value.code == "reservation_not_found"
    # Nothing was decided: the right patient still checks in.
    assert (await rules.run(c.CheckIn(rid, patient=booked)))["reservation"].state == "checked_in"


async def test_a_wrong_pair_learns_nothing_of_the_state(rules: Rules) -> None:
    """After check-in, a stranger's number is still "not found", never "already checked in"."""
    rid = await _booked(rules, POLICY)
    await rules.run(c.CheckIn(rid, patient=POLICY))
    with pytest.raises(NotFound):
        await rules.run(c.CheckIn(rid, patient="1111 111111"))


def test_typed_codes_name_the_reservation() -> None:
    """Typed "R1", "к1" (the same key on a Russian layout), " r 1 " or "1": all name r1."""
    assert {booking_code(t) for t in ["R1", "к1", "К1", "р1", " r 1 ", "1", "r1"]} == {"r1"}
    assert booking_code("r12") != booking_code("r1")
    assert patient_key("ПОЛИС 7700-123 456") == patient_key("полис7700123456")


def test_six_digits_make_a_reference_a_number() -> None:
    """From six ASCII digits on, a reference is keyed by its digits; below, by its letters too."""
    assert patient_key("полис 7700-123 456") == "7700123456"
    assert patient_key("AB 123456") == "123456"
    assert patient_key("AB 12345") == "ab12345"
    arabic = "\u0661\u0662\u0663\u0664\u0665\u0666"  # 123456 in Arabic-Indic digits
    assert patient_key(arabic + " ab") == arabic + "ab"


async def _book(cc: ClinicClient, patient: str) -> str:
    return (await book_later_today(cc, patient))[0]


async def _check_in(cc: ClinicClient, code: str, patient: str) -> Any:
    return await cc.http.post(
        f"{cc.api}/reservations/{code}/check-in",
        json={"patient": patient},
        headers=cc.auth("kiosk"),
    )


@pytest.mark.integration
async def test_the_kiosk_api_reads_the_code_and_number_as_typed(clinics: MakeClinic) -> None:
    """The reviewer's booking: "R1", "к1" and "7700123456" find r1 booked with "7700 123456";
    a different number does not; an exact old-style pair still does."""
    cc = await clinics("matching", timezone=midday_zone())
    rid = await _book(cc, POLICY)
    number = rid[1:]
    for code in ("R" + number, "к" + number):
        wrong = await _check_in(cc, code, "7700 123457")
        assert wrong.status_code == 404, wrong.text
        assert wrong.json()["error"]["code"] == "reservation_not_found"
    answer = await _check_in(cc, "к" + number, "7700123456")
    assert answer.status_code == 200, answer.text
    assert answer.json()["ticket"]["number"].startswith("Т-")

    exact = await _book(cc, "полис 7700 654321")
    answer = await _check_in(cc, exact, "полис 7700 654321")
    assert answer.status_code == 200, answer.text


@pytest.mark.integration
async def test_the_api_example_checks_in_from_the_keypad(clinics: MakeClinic) -> None:
    """The reviewer's case: booked as the API's own example, "полис 7700 123456", the patient
    types "7700123456" on the keypad and checks in; "7700123457" still reads as not found."""
    cc = await clinics("matchpolicy", timezone=midday_zone())
    rid = await _book(cc, "полис 7700 123456")
    code = rid[1:]  # the keypad's bare number for r<n>
    wrong = await _check_in(cc, code, "7700123457")
    assert wrong.status_code == 404, wrong.text
    assert wrong.json()["error"]["code"] == "reservation_not_found"
    answer = await _check_in(cc, code, "7700123456")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "checked_in"
    assert answer.json()["ticket"]["number"].startswith("Т-")


@pytest.mark.integration
async def test_checking_in_again_answers_with_the_same_ticket(clinics: MakeClinic) -> None:
    """A second check-in is refused "already_checked_in" and carries the first one's ticket:
    number, status link and appointment; a stranger's number gets none of it."""
    cc = await clinics("matchagain", timezone=midday_zone())
    rid = await _book(cc, POLICY)
    first = await _check_in(cc, rid, POLICY)
    assert first.status_code == 200, first.text
    again = await _check_in(cc, rid.upper(), "7700-123456")
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert error["code"] == "already_checked_in"
    ticket, shown = first.json()["ticket"], error["detail"]["ticket"]
    assert shown["id"] == ticket["id"] and shown["number"] == ticket["number"]
    assert shown["status_url"] == ticket["status_url"]
    assert shown["appointment"]["time"] == ticket["appointment"]["time"]
    stranger = await _check_in(cc, rid, "7700 000000")
    assert stranger.status_code == 404
    assert "detail" not in stranger.json()["error"]


# Letters of both alphabets in both cases, digits, every skipped character, and some others
# (Greek, accents, non-ASCII digits, a 3- and a 4-byte character) the rule must leave as they are.
TYPED = st.text(
    alphabet=st.sampled_from(
        list("AZazАЯаяЁёЀЏѐџЖж09 -\t\u00a0\u2010\u2013\u2014\u2212ΣσÉé№€😀.\u0663\uff15²")
    ),
    max_size=20,
)
# A reference with a run of digits, either side of six of them: words around a policy number.
WITH_DIGITS = st.builds(
    lambda before, digits, after: before + digits + after,
    TYPED,
    st.text(alphabet=st.sampled_from(list("0123456789 -")), min_size=3, max_size=14),
    TYPED,
)


@pytest.mark.integration
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(TYPED, WITH_DIGITS))
@example(text="полис 12345")
@example(text="полис 123456")
@example(text="ab\u0663 12-34-56 ²")
def test_lua_keys_a_reference_as_the_model_does(redis_url: str, text: str) -> None:
    """_booking.lua: patient_key gives the bytes of matching.patient_key for any text."""
    client = redis.Redis.from_url(redis_url)
    try:
        lua = (LUA_DIR / "_booking.lua").read_text() + "\nreturn patient_key(ARGV[1])"
        assert client.eval(lua, 0, text) == patient_key(text).encode()
    finally:
        client.close()
