"""The pure side of replies: what counts as a STOP, the confirmation's text, the callback
settings (validated at start-up, filled from the environment in one place)."""

from __future__ import annotations

import pytest
from sms_helpers import KEY

from clinicq.settings import Settings
from engine.errors import ConfigError
from notifier.compose import segments
from notifier.phones import from_provider
from notifier.replies import confirmation, is_stop
from notifier.settings import NotifierSettings

SECRET = "a" * 32


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", "Stop!", " стоп ", "СТОП.", "Стоп!!!", "«СТОП»", '"stop"', "CTOП", "ＳＴＯＰ",
     "стоп\n", "…стоп…"],
)  # fmt: skip
def test_a_stop_in_any_case_and_punctuation_is_a_stop(text: str) -> None:
    assert is_stop(text)


@pytest.mark.parametrize(
    "text",
    ["", "...", "stop sending at night", "не стоп", "стопка", "stopp", "st op", "1", "STOP2",
     "Как она?", "спасибо"],
)  # fmt: skip
def test_anything_else_is_not_a_stop(text: str) -> None:
    assert not is_stop(text)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_confirmation_says_it_stopped_in_the_relatives_language(language: str) -> None:
    """Short (two segments at most), and in the language the relative chose."""
    answer = confirmation(language)
    assert answer.segments == segments(answer.text) and answer.segments.count <= 2
    word = {"ru": "отписаны", "en": "unsubscribed"}[language]
    assert word in answer.text
    assert answer.segments.encoding == ("gsm7" if language == "en" else "ucs2")


def test_a_providers_sender_number_is_read_as_e164_or_not_at_all() -> None:
    assert from_provider("79161234567") == "+79161234567"
    assert from_provider(" +79161234567 ") == "+79161234567"
    assert from_provider("89161234567") == "+79161234567"
    assert [from_provider(x) for x in ("", "SMSC", "900", "74951234567")] == [None] * 4


@pytest.mark.parametrize("secret", ["short", "a" * 31, "a" * 129, "a" * 31 + "/", "ю" * 40])
def test_a_weak_or_unsafe_callback_secret_fails_at_start_up(secret: str) -> None:
    with pytest.raises(ConfigError, match="smsc_callback_secret"):
        NotifierSettings(encryption_key=KEY, smsc_callback_secret=secret).validate()


def test_the_callback_secret_comes_from_the_environment_and_defers_the_poll() -> None:
    """CLINICQ_SMSC_CALLBACK_SECRET fills it; with it the first poll waits for the callback."""
    env = {"CLINICQ_ENCRYPTION_KEY": KEY.hex(), "CLINICQ_SMSC_CALLBACK_SECRET": SECRET}
    notifier = Settings.from_env(env).notifier
    assert notifier.smsc_callback_secret == SECRET
    assert notifier.first_poll == notifier.callback_poll_after > notifier.poll_base
    assert Settings.from_env({}).notifier.first_poll == NotifierSettings().poll_base
    assert Settings.from_env(env).environ()["CLINICQ_SMSC_CALLBACK_SECRET"] == SECRET
