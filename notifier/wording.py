"""A hospital's own wording of the daily message, checked before it is stored. Pure.

A template that works for today's patient may fail for tomorrow's: a field missing, a value
stale, a patient on a ventilator. So a wording is rendered, in both styles, for every state of
every field (each value a field can take, stale, missing), with every other field in each of
the three states, and with the longest values and a full-length patient label; each rendering
must succeed and one style must fit the segment limit. That is every field's every state
against each background, not the full product of ten fields (3^10 renderings), which a template
that treats fields one at a time, as ours do, does not need.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime

import jinja2

from engine.clinic import Clinic
from notifier.compose import LANGUAGES, Composed, _env, compose, render_style
from notifier.errors import InvalidInput, NotifierError
from notifier.vitals import FIELDS, Assessed, Dynamics, State
from notifier.wording_rules import check_wording

SAMPLE_DATE = date(2026, 12, 31)
AT = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
LONGEST_LABEL = "Ш" * 40  # the longest patient label the API takes
MAX_SEGMENTS = 3  # the smallest limit the settings allow: a wording fits every deployment

# Each value a field can take that changes the words: the extremes the limits let through.
VALUES: Mapping[str, tuple[object, ...]] = {
    "temperature": (36.6, 25.0, 45.0),
    "pulse": (72, 300),
    "blood_pressure": ((120, 80), (300, 200)),
    "spo2": (97, 100),
    "heart_rate": (72, 300),
    "respiratory_rate": (16, 80),
    "conscious": (True, False),
    "ventilator": (False, True),
    "dynamics": tuple(d.value for d in Dynamics),
}
assert set(VALUES) == set(FIELDS)


def _states(name: str) -> Iterator[tuple[str, Assessed]]:
    for value in VALUES[name]:
        yield f"{name} = {value}", Assessed("ok", value, AT)
    yield f"{name} stale", Assessed("stale", VALUES[name][-1], AT)
    yield f"{name} missing", Assessed("missing")


def _background(state: State) -> dict[str, Assessed]:
    if state == "missing":
        return {name: Assessed("missing") for name in FIELDS}
    return {name: Assessed(state, VALUES[name][-1], AT) for name in FIELDS}


def cases() -> Iterator[tuple[str, dict[str, Assessed]]]:
    """(what the case is, the vitals) for every field's every state on each background."""
    backgrounds: tuple[State, ...] = ("ok", "stale", "missing")
    for background in backgrounds:
        for name in FIELDS:
            for what, assessed in _states(name):
                yield f"{what}, others {background}", {**_background(background), name: assessed}


def sample(language: str, wording: str | None, hospital: str, patient: str) -> Composed:
    """The message for a typical day (every value fresh), as a relative would read it."""
    vitals = {name: Assessed("ok", VALUES[name][0], AT) for name in FIELDS}
    return _compose(language, wording, vitals, hospital, patient)


def _compose(
    language: str, wording: str | None, vitals: dict[str, Assessed], hospital: str, patient: str
) -> Composed:
    return compose(
        language=language,
        local_date=SAMPLE_DATE,
        vitals=vitals,
        max_segments=MAX_SEGMENTS,
        patient=patient,
        hospital=hospital,
        wording=wording,
    )


def problems(language: str, wording: str, *, hospital: str = "", limit: int = 3) -> list[str]:
    """What is wrong with ``wording`` (at most ``limit`` problems); [] when it is fit to use."""
    if language not in LANGUAGES:
        return [f"wording for an unknown language {language!r} (one of {', '.join(LANGUAGES)})"]
    try:
        check_wording(_env(), wording)
    except InvalidInput as exc:
        return [f"wording {language}: {exc.message}"]
    found: list[str] = []
    try:
        for what, vitals in cases():
            for patient in ("", LONGEST_LABEL):
                problem = _problem(language, wording, vitals, hospital, patient)
                if problem:
                    who = "with a patient label" if patient else "without a patient label"
                    found.append(f"wording {language}: {problem} ({what}, {who})")
                    if len(found) >= limit:
                        return found
                    break
    except jinja2.TemplateSyntaxError as exc:
        return [f"wording {language}: line {exc.lineno}: {exc.message}"]
    return found


def _problem(
    language: str, wording: str, vitals: dict[str, Assessed], hospital: str, patient: str
) -> str | None:
    try:
        for style in ("full", "short"):
            render_style(language, wording, style, SAMPLE_DATE, vitals, patient, hospital)
        _compose(language, wording, vitals, hospital, patient)
    except jinja2.TemplateSyntaxError:
        raise
    except NotifierError as exc:
        return exc.message
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return f"it does not render: {exc}"
    return None


def clinic_problems(clinic: Clinic) -> list[str]:
    """The check the assembly adds to every clinic's validation (``engine.clinic.CHECKS``)."""
    if clinic.icu is None:
        return []
    hospital = clinic.icu.hospital_name or ""
    found: list[str] = []
    for language, wording in sorted(clinic.icu.templates.items()):
        found += [f"icu: {p}" for p in problems(language, wording, hospital=hospital)]
    return found
