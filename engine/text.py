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

# Something besides spaces, and none of the forbidden characters.
PLAIN = r"^(?=.*\S)[^\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]*$"
_PLAIN = re.compile(PLAIN)
NAME_MAX = 80

# A name on a screen, a ticket or a door: a clinic, a service, a cabinet, a doctor.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=PLAIN)]


def plain_text(value: str, what: str, limit: int = 64) -> str:
    """``value`` if it is 1..``limit`` characters of plain text; else a 422 naming ``what``."""
    if not 1 <= len(value) <= limit or not _PLAIN.match(value):
        raise ValidationFailed(
            f"{what} must be 1-{limit} characters, without control or direction characters"
        )
    return value
