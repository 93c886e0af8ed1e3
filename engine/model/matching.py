"""How a booking code and a patient reference typed at a kiosk are matched to a booking, and
a ticket number typed at the desk to today's tickets.

A patient types the code and the reference from memory, on whatever layout the keyboard is in.
``booking_code`` reads a code as the id it names ("R 12", "к12" typed on a Russian layout, or
just "12", all name ``r12``). ``patient_key`` is the form in which a reference is compared: a
reference with at least ``MIN_DIGITS`` ASCII digits (a policy number, a phone) by its digits
alone, since the kiosk's keypad has digits and R only and "полис 7700 123456" must be typed as
"7700123456"; a shorter one with no spaces, no dashes, one letter case, so short codes such as
"ab 12" and "ac 12" still differ. The reservation keeps the reference as it was given, and
check-in compares both sides' keys, so a booking made before this rule matches as well.
``number_key`` reads a ticket number as the registrar types it ("т42", "T-042", "042").
``engine/lua/_booking.lua: patient_key`` states the same rule for the atomic check; the two are
kept byte-for-byte alike by explicit ranges (no Unicode case tables, which Lua lacks).
"""

from __future__ import annotations

import re

# A reference with this many digits is identified by them; with fewer, its letters count too.
MIN_DIGITS = 6

# Spaces (with the no-break space a phone's keyboard inserts) and every dash people type.
SKIPPED = frozenset(" \t\n\r\f\v\u00a0-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")

# The Russian ЙЦУКЕН layout onto the Latin keys under the same fingers.
_LAYOUT = str.maketrans("ёйцукенгшщзхъфывапролджэячсмитьбю", "`qwertyuiop[]asdfghjkl;'zxcvbnm,.")
# A code is "r" and digits, never "h": the Cyrillic "р" (on the "h" key) is the look-alike of
# the "r" printed on the booking slip, typed by eye.
_LAYOUT[ord("р")] = ord("r")


def _lower(ch: str) -> str:
    o = ord(ch)
    if 0x41 <= o <= 0x5A or 0x410 <= o <= 0x42F:  # A-Z, А-Я
        return chr(o + 0x20)
    if 0x400 <= o <= 0x40F:  # Ѐ-Џ, Ё among them
        return chr(o + 0x50)
    return ch


def patient_key(text: str) -> str:
    """A patient reference as it is compared: its ASCII digits when it has ``MIN_DIGITS`` of
    them ("полис 7700-123 456" and "7700123456" are one policy number); otherwise spaces and
    dashes dropped, Latin and Cyrillic letters in lower case ("АБ-12" is "аб12")."""
    # Explicit 0-9, not str.isdigit: Lua sees bytes, and "٣" or "²" are not typed at a kiosk.
    digits = "".join(ch for ch in text if "0" <= ch <= "9")
    if len(digits) >= MIN_DIGITS:
        return digits
    return "".join(_lower(ch) for ch in text if ch not in SKIPPED)


def booking_code(text: str) -> str:
    """The reservation id a typed booking code names: spaces dropped, lower case, a Cyrillic
    letter read as the Latin one on its key, and bare digits taken as the number of ``r<n>``."""
    code = "".join(_lower(ch) for ch in text if not ch.isspace()).translate(_LAYOUT)
    return "r" + code if code.isascii() and code.isdigit() else code


# Cyrillic capitals onto the Latin ones they look like: a prefix typed on either layout by eye.
_LOOKALIKE = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")
# The Latin keys onto the Russian letters under the same fingers: "n42" typed for "т42" on a
# layout left in English.
_KEYS = str.maketrans("`qwertyuiop[]asdfghjkl;'zxcvbnm,.", "ёйцукенгшщзхъфывапролджэячсмитьбю")
_NUMBER = re.compile(r"^(\D*?)0*(\d{1,6})$")


def _prefix_key(letters: str) -> str:
    return letters.upper().translate(_LOOKALIKE)


def number_key(text: str) -> tuple[str, int] | None:
    """A ticket number as compared: (its prefix, upper case, Cyrillic look-alikes as Latin;
    its number): "т-042", "T42" and "Т-042" are ("T", 42). None: not a ticket number."""
    found = _NUMBER.match("".join(ch for ch in text if ch not in SKIPPED))
    if found is None:
        return None
    return _prefix_key(found.group(1)), int(found.group(2))


def number_matches(typed: tuple[str, int], number: str) -> bool:
    """Whether a ticket's ``number`` is the one typed: a typed prefix must match (as typed, or
    as the Russian letters on the same keys), and bare digits match any prefix."""
    own = number_key(number)
    if own is None or own[1] != typed[1]:
        return False
    prefix = typed[0]
    return not prefix or own[0] in (prefix, _prefix_key(prefix.lower().translate(_KEYS)))
