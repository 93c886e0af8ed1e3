"""A relative's reply, read purely: is it a STOP, and the one confirmation it gets.

A STOP is the whole message once case, spaces, quotes and punctuation around it are gone:
"STOP", "стоп.", " Стоп! ", "«СТОП»". Latin letters that look Cyrillic count as Cyrillic
("CTOП", typed on a keyboard switched half-way). A longer text ("stop at night, please") is not
a STOP: a machine should not guess at what a relative meant by it.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from notifier.compose import LANGUAGES, Segments, segments
from notifier.errors import InvalidInput

STOP_WORDS = frozenset({"stop", "стоп"})
_AROUND = string.punctuation + string.whitespace + "«»„“”‘’…¡¿—–"
# Latin letters a Russian keyboard user may type for their Cyrillic twins.
_LOOKALIKES = str.maketrans("aceopxykmhtb", "асеорхукмнтв")


def is_stop(text: str) -> bool:
    """True when the whole reply is a STOP word (see the module docstring)."""
    word = unicodedata.normalize("NFKC", text).strip(_AROUND).casefold()
    return word in STOP_WORDS or word.translate(_LOOKALIKES) in STOP_WORDS


@dataclass(frozen=True, slots=True)
class Confirmation:
    text: str
    segments: Segments


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # The same templates directory and rules as the daily message (compose._env).
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=False,  # plain SMS text, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def confirmation(language: str) -> Confirmation:
    """The one SMS that answers a STOP, in the relative's language."""
    if language not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}")
    text = _env().get_template(f"stop_{language}.txt.j2").render().strip()
    return Confirmation(text, segments(text))
