"""The ticket's message catalogue: every printed string, per locale.

Kept as data so that a translator edits this file only; the layout picks strings by key.
Date patterns are CLDR patterns for babel's ``format_datetime``.
"""

from __future__ import annotations

from typing import Final

DEFAULT_LOCALE: Final = "ru"

MESSAGES: Final[dict[str, dict[str, str]]] = {
    "ru": {
        "cabinet": "Кабинет № {cabinet}",
        "issued_at": "Выдан: {when}",
        "datetime_pattern": "d MMMM y, HH:mm",
        "time_pattern": "HH:mm",
        "appointment": "Приём в {time}",
        "doctor": "Врач: {doctor}",
        "people_ahead": "Перед вами: {count}",
        "people_ahead_none": "Перед вами никого нет",
        "expected_wait": "Ожидание: около {minutes} мин",
        "guidance": "Следите за номером на табло. Статус талона — по QR-коду.",
        "test_page_title": "Проверка принтера",
        "test_page_charset": "Кириллица: АБВГДЕЁЖЗИЙ абвгдеёжзий №",
    },
    "en": {
        "cabinet": "Room {cabinet}",
        "issued_at": "Issued: {when}",
        "datetime_pattern": "d MMMM y, HH:mm",
        "time_pattern": "HH:mm",
        "appointment": "Appointment at {time}",
        "doctor": "Doctor: {doctor}",
        "people_ahead": "People ahead of you: {count}",
        "people_ahead_none": "You are next",
        "expected_wait": "Expected wait: about {minutes} min",
        "guidance": "Watch the screen for your number. Scan the QR code for status.",
        "test_page_title": "Printer test",
        "test_page_charset": "Cyrillic: АБВГДЕЁЖЗИЙ абвгдеёжзий №",
    },
}


def message(locale: str, key: str, **values: object) -> str:
    """The catalogue string ``key`` in ``locale``, formatted with ``values``."""
    return MESSAGES[locale][key].format(**values)
