"""Text to printer bytes in one explicit code page, degrading by transliteration, never to "?".

python-escpos' magic encoder switches code pages on its own and prints "?" for anything it cannot
place; a ticket must instead print in the one page we selected, so we encode here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

from escpos.capabilities import CAPABILITIES

from ticketing.errors import PrinterConfigError

# Preferred pages for Cyrillic, best first; CP437 is the last resort (transliterated).
PREFERRED: Final = ("CP866", "CP1251", "CP437")
_GAPS: Final = re.compile(" {2,}")

_CYRILLIC: Final = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "ў": "u",
}  # fmt: skip

_SYMBOLS: Final = {
    "№": "No.", "«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "‘": "'", "’": "'",
    "—": "-", "–": "-", "‑": "-", "−": "-", "…": "...", "•": "*", "⁄": "/", "·": ".",
    "€": "EUR", "₽": "RUB", "©": "(c)", "®": "(R)", "™": "TM", "×": "x",
    "ё": "е", "Ё": "Е",
}  # fmt: skip


def python_codec(codepage: str) -> str:
    """The Python codec name behind an escpos code page name, e.g. "CP866" -> "cp866"."""
    data = CAPABILITIES["encodings"].get(codepage.upper())
    if not data or "python_encode" not in data:
        raise PrinterConfigError(f"code page {codepage!r} has no Python codec to encode with")
    return str(data["python_encode"])


@lru_cache(maxsize=32)
def _charset(codepage: str) -> frozenset[str]:
    codec = python_codec(codepage)
    chars = {chr(i) for i in range(32, 127)}
    for byte in range(128, 256):
        try:
            chars.add(bytes([byte]).decode(codec))
        except UnicodeDecodeError:
            continue
    return frozenset(chars)


def _fits(text: str, charset: frozenset[str]) -> bool:
    return all(c in charset for c in text)


def _degrade(char: str, charset: frozenset[str]) -> str:
    """A readable stand-in for one character the code page lacks ("" when none is sensible)."""
    if char in _SYMBOLS and _fits(_SYMBOLS[char], charset):
        return _SYMBOLS[char]
    lower = char.lower()
    if lower in _CYRILLIC:
        latin = _CYRILLIC[lower]
        return latin.capitalize() if char != lower else latin
    # "é" -> "e", "ﬁ" -> "fi", "½" -> "1/2": compatibility decomposition, marks dropped.
    decomposed = "".join(
        c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
    )
    if decomposed and decomposed != char:
        # NFKD is idempotent, so this recursion ends one level down.
        return "".join(c if c in charset else _degrade(c, charset) for c in decomposed)
    category = unicodedata.category(char)
    if category.startswith("Z") or char in "\t\n\r":
        return " "
    if category == "Pd":
        return "-"
    if category in ("Pi", "Pf"):
        return '"'
    # Emoji, pictographs, control and format characters: dropping them reads better than "?".
    return ""


def fit(text: str, codepage: str) -> str:
    """``text`` with every character the code page lacks replaced by a readable stand-in."""
    charset = _charset(codepage.upper())
    pieces = [c if c in charset else _degrade(c, charset) for c in text]
    fitted = "".join(pieces)
    if "" in pieces:
        # A dropped emoji between two words would leave a double gap on paper.
        fitted = _GAPS.sub(" ", fitted)
    return fitted


def encode(text: str, codepage: str) -> bytes:
    """``text`` as bytes in ``codepage``; control characters never reach the printer."""
    return fit(text, codepage).encode(python_codec(codepage))


def choose(code_pages: dict[str, int] | list[str]) -> str:
    """The best page for Cyrillic among those a printer profile offers."""
    offered = {name.upper() for name in code_pages}
    for name in PREFERRED:
        if name in offered:
            return name
    raise PrinterConfigError("the printer profile offers none of " + ", ".join(PREFERRED))
