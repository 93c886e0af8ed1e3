"""One rule for typed text, and a clinic stored before it still loads (pure, no servers)."""

from __future__ import annotations

import msgspec
import pytest

from engine.clinic import DEMO_CLINICS, load_clinics, parse_clinic, stored_clinic
from engine.errors import ValidationFailed
from engine.text import NAME_MAX, plain_text


@pytest.mark.parametrize(
    "text",
    [
        "abc\n",
        "a\nb",
        "\u202eabc",
        "ab\u2067c",
        "a\x9bb",
        "a\u200fb",
        "a\u2028b",
        "  ",
        "",
        "x" * 65,
    ],
)
def test_text_that_is_not_plain_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        plain_text(text, "patient")


@pytest.mark.parametrize(
    "text", ["Иванов И. И.", "Ёлкина Ä. 😷", "Терапевт 👩‍⚕️", "полис 7700 1234"]
)
def test_names_in_any_script_with_emoji_pass(text: str) -> None:
    assert plain_text(text, "patient") == text


def test_a_clinic_stored_before_the_rule_loads_with_plain_names() -> None:
    """A name the rule now refuses does not keep the clinic, or the server, from loading."""
    clinic = msgspec.to_builtins(load_clinics(DEMO_CLINICS)[0])
    clinic["name"] = "Поликлиника \u202e№ 24\n"
    clinic["services"][0]["name"] = "Т" * 5000
    data = msgspec.json.encode(clinic)
    with pytest.raises(ValidationFailed):
        parse_clinic(data)  # a write is refused
    loaded = stored_clinic(data)  # a stored one is made plain
    assert loaded.name == "Поликлиника № 24"
    assert loaded.services[0].name == "Т" * NAME_MAX
