"""How a booking code and a patient reference typed at a kiosk are matched to a booking.

A patient types the code and the reference from memory, on whatever layout the keyboard is in.
``booking_code`` reads a code as the id it names ("R 12", "к12" typed on a Russian layout, or
just "12", all name ``r12``). ``patient_key`` is the form in which a reference is compared: a
reference with at least ``MIN_DIGITS`` ASCII digits (a policy number, a phone) by its digits
alone, since the kiosk's keypad has digits and R only and "полис 7700 123456" must be typed as
"7700123456"; a shorter one with no spaces, no dashes, one letter case, so short codes such as
"ab 12" and "ac 12" still differ. The reservation keeps the reference as it was given, and
check-in compares both sides' keys, so a booking made before this rule matches as well.
``engine/lua/_booking.lua: patient_key`` states the same rule for the atomic check; the two are
kept byte-for-byte alike by explicit ranges (no Unicode case tables, which Lua lacks).
"""

from __future__ import annotations

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
