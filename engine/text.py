"""One rule for text that people type and others read: names, labels, patient references.

No control characters (a NUL cannot even be stored in PostgreSQL) and no bidirectional
overrides or isolates (U+202A-U+202E, U+2066-U+2069: one in a clinic's name turned the
screen's header around), and a length that fits the screens (a 20,000-character service name
squeezed the board to a strip). The same pattern is in the OpenAPI document, through the types.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

from engine.errors import ValidationFailed

# No line break anywhere (Python's "$" also matches before a final one), something besides
# spaces, and none of: C0 and C1 controls, line and paragraph separators, direction marks,
# embeddings, overrides and isolates.
PLAIN = (
    r"^(?!.*\n)(?=.*\S)"
    r"[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
)
_PLAIN = re.compile(PLAIN)
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# Long enough for a polyclinic's full official name (~140 characters), short of a wall of text.
NAME_MAX = 200

# A name on a screen, a ticket or a door: a clinic, a service, a cabinet, a doctor. Checked
# when a configuration is written; one stored before the rule is loaded even so, with a warning
# (engine.service.Engine.load_clinics), so a server never fails to start over a name.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=PLAIN)]


def made_plain(value: str) -> str:
    """``value`` with the forbidden characters dropped and cut to ``NAME_MAX`` (for names stored
    before this rule); a name with nothing left reads "?"."""
    kept = _FORBIDDEN.sub("", value).strip()[:NAME_MAX]
    return kept or "?"


def plain_text(value: str, what: str, limit: int = 64) -> str:
    """``value`` if it is 1..``limit`` characters of plain text; else a 422 naming ``what``."""
    if not 1 <= len(value) <= limit or not _PLAIN.fullmatch(value):
        raise ValidationFailed(
            f"{what} must be 1-{limit} characters, without control or direction characters"
        )
    return value
