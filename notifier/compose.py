"""The daily SMS text, composed purely from assessed vitals, and GSM-7/UCS-2 segment counting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import jinja2
from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2.sandbox import SandboxedEnvironment

from notifier.errors import InvalidInput, MessageTooLong
from notifier.vitals import Assessed
from notifier.wording_rules import check_wording

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
STYLES = ("full", "short")

# GSM 03.38 default alphabet (ESC excluded) and its extension table (each costs two septets).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: Literal["gsm7", "ucs2"]
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    count: int


def _pack(costs: list[int], single: int, multi: int) -> int:
    """Segments needed when a character's units may not be split across two segments."""
    total = sum(costs)
    if total <= single:
        return 1
    count, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            count, used = count + 1, 0
        used += cost
    return count


def segments(text: str) -> Segments:
    """Count SMS parts: GSM-7 160/153 (extension chars cost 2), else UCS-2 70/67."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        costs = [2 if ch in GSM_EXTENSION else 1 for ch in text]
        return Segments("gsm7", sum(costs), _pack(costs, 160, 153))
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return Segments("ucs2", sum(costs), _pack(costs, 70, 67))


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # Sandboxed: a hospital's own wording is written by its administrator, not by us.
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=False,  # plain SMS text, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@lru_cache(maxsize=256)
def _template(language: str, wording: str | None) -> jinja2.Template:
    if wording is None:
        return _env().get_template(f"daily_{language}.txt.j2")
    check_wording(_env(), wording)
    return _env().from_string(wording)


def _format(name: str, value: object, locale: str) -> str:
    if name == "temperature" and isinstance(value, int | float):
        return format_decimal(value, format="0.0", locale=locale)
    if name == "blood_pressure" and isinstance(value, list | tuple):
        return f"{value[0]}/{value[1]}"
    return str(value)


def render_style(
    language: str,
    wording: str | None,
    style: str,
    local_date: date,
    vitals: Mapping[str, Assessed],
    patient: str,
    hospital: str,
) -> str:
    """The message in one style; an empty text is refused (a relative would get nothing)."""
    if language not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}")
    view = {
        name: {
            "state": item.state,
            "value": item.value,
            "text": _format(name, item.value, language) if item.state == "ok" else "",
        }
        for name, item in vitals.items()
    }
    when = format_date(local_date, "dd.MM.yyyy", locale=language)
    text = (
        _template(language, wording)
        .render(v=view, style=style, date=when, patient=patient, hospital=hospital)
        .strip()
    )
    if not text:
        raise InvalidInput("the template renders an empty message")
    return text


@dataclass(frozen=True, slots=True)
class Composed:
    text: str
    language: str
    style: str
    segments: Segments


def compose(
    *,
    language: str,
    local_date: date,
    vitals: Mapping[str, Assessed],
    max_segments: int,
    patient: str = "",
    hospital: str = "",
    wording: str | None = None,
) -> Composed:
    """Render the daily message, shortening to the compact style to stay within max_segments.

    ``wording`` is a hospital's own template for this language; ours is used without one.
    """
    for style in STYLES:
        text = render_style(language, wording, style, local_date, vitals, patient, hospital)
        parts = segments(text)
        if parts.count <= max_segments:
            return Composed(text, language, style, parts)
    raise MessageTooLong(
        f"the daily message needs {parts.count} SMS segments, more than the allowed {max_segments}"
    )
