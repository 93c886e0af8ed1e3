"""Phone numbers: validate with libphonenumber, normalise to E.164 (Russia first), mask."""

from __future__ import annotations

import phonenumbers

from notifier.errors import InvalidPhone

DEFAULT_REGION = "RU"


def normalise(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return ``raw`` as E.164 (``+79161234567``); a national number is read as Russian."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhone("phone number is empty")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        # The library's message never quotes the number; ours must not either.
        raise InvalidPhone("phone number cannot be parsed") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("phone number is not a valid number")
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidPhone(
            "phone number is not a mobile number, so it cannot receive SMS", code="phone_not_mobile"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(e164: str) -> str:
    """Show only the country code and the last four digits: ``+7 *** ***-12-34``."""
    try:
        number = phonenumbers.parse(e164, None)
        country = str(number.country_code)
        national = str(number.national_number)
    except phonenumbers.NumberParseException:
        country, national = "", e164.lstrip("+")
    tail = national[-4:].rjust(4, "*")
    return f"+{country} *** ***-{tail[:2]}-{tail[2:]}"


def from_provider(raw: str) -> str | None:
    """A sender's number as a provider reports it (``79161234567``, no plus) in E.164, or None
    when it is no mobile number (a short code, a name, garbage)."""
    raw = raw.strip()
    for candidate in (raw if raw.startswith("+") else f"+{raw}", raw):
        try:
            return normalise(candidate)
        except InvalidPhone:
            continue
    return None
