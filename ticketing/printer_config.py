"""Printer configuration, pure: the URL-ish string a kiosk's printer is configured by.

``tcp://10.0.0.5:9100?profile=TM-T20II``, ``usb://04b8:0e15``, ``serial:///dev/ttyUSB0``,
``file:///dev/usb/lp0``, ``cups://printhost:631/Kiosk_1``. Parsing and the profile and code page
checks touch no device, so a clinic's configuration is validated with them when it is loaded;
``printers`` opens the devices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from escpos.capabilities import CAPABILITIES, get_profile

from ticketing import codepage as cp
from ticketing.errors import PrinterConfigError

_OPTIONS: Final = frozenset(
    {"profile", "codepage", "timeout", "status_timeout", "baudrate", "in_ep", "out_ep"}
)


@dataclass(frozen=True)
class PrinterConfig:
    """A parsed printer URL; ``timeout`` bounds connect and send, ``status_timeout`` a reply."""

    scheme: str
    target: str  # host, "vid:pid", device path or CUPS printer name
    host: str | None = None
    port: int | None = None
    profile: str = "default"
    codepage: str | None = None
    timeout: float = 3.0
    status_timeout: float = 0.5
    options: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def parse_printer_url(url: str) -> PrinterConfig:
    """Parse ``scheme://...?profile=...&codepage=...&timeout=...`` into a PrinterConfig."""
    parts = urlsplit(url.strip())
    target = SCHEMES.get(parts.scheme)
    if target is None:
        raise PrinterConfigError(
            f"printer {url!r}: scheme must be one of {', '.join(s + '://' for s in SCHEMES)}"
        )
    options = dict(parse_qsl(parts.query))
    unknown = set(options) - _OPTIONS
    if unknown:
        raise PrinterConfigError(f"printer {url!r}: unknown option(s) {', '.join(sorted(unknown))}")
    try:
        timeout = float(options.pop("timeout", 3.0))
        status_timeout = float(options.pop("status_timeout", 0.5))
    except ValueError as exc:
        raise PrinterConfigError(f"printer {url!r}: {exc}") from exc
    if timeout <= 0 or status_timeout <= 0:
        raise PrinterConfigError(f"printer {url!r}: time-outs must be positive")
    return PrinterConfig(
        parts.scheme,
        **target(url, parts),
        profile=options.pop("profile", "default"),
        codepage=options.pop("codepage", None),
        timeout=timeout,
        status_timeout=status_timeout,
        options=options,
    )


# Each scheme's reading of the address part: the target, and a host and port if it has them.
Target = Callable[[str, SplitResult], dict[str, Any]]


def _port(url: str, parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError as exc:
        raise PrinterConfigError(f"printer {url!r}: {exc}") from exc


def _tcp(url: str, parts: SplitResult) -> dict[str, Any]:
    if not parts.hostname:
        raise PrinterConfigError(f"printer {url!r}: expected tcp://HOST[:PORT]")
    host = parts.hostname
    return {"target": host, "host": host, "port": _port(url, parts) or 9100}


def _usb(url: str, parts: SplitResult) -> dict[str, Any]:
    # usb://VID:PID is not a host and port.
    if not usb_ids(parts.netloc):
        raise PrinterConfigError(f"printer {url!r}: expected usb://VENDOR:PRODUCT in hex")
    return {"target": parts.netloc}


def _cups(url: str, parts: SplitResult) -> dict[str, Any]:
    name = unquote(parts.path).strip("/")
    return {"target": name, "host": parts.hostname, "port": _port(url, parts)}


def _path(url: str, parts: SplitResult) -> dict[str, Any]:
    path = unquote(parts.path)
    if not path or parts.netloc:
        raise PrinterConfigError(f"printer {url!r}: expected {parts.scheme}:///absolute/path")
    return {"target": path}


# The printer types by URL scheme; ``printers.TRANSPORTS`` opens each (a test keeps them equal).
SCHEMES: Final[dict[str, Target]] = {
    "tcp": _tcp,
    "usb": _usb,
    "serial": _path,
    "file": _path,
    "cups": _cups,
}


def usb_ids(ids: str) -> tuple[int, int] | None:
    vendor, _, product = ids.partition(":")
    try:
        return int(vendor, 16), int(product, 16)
    except ValueError:
        return None


def code_page(profile: str, codepage: str | None = None) -> str:
    """The code page text is encoded to on ``profile``: ``codepage``, else its best Cyrillic page.

    Raises PrinterConfigError for an unknown profile or a page the profile lacks.
    """
    if profile not in CAPABILITIES["profiles"]:
        raise PrinterConfigError(f"unknown printer profile {profile!r}")
    pages = get_profile(profile).get_code_pages()
    page = (codepage or cp.choose(pages)).upper()
    if page not in pages:
        raise PrinterConfigError(f"profile {profile!r} has no code page {page}")
    return page


def check_printer(url: str, profile: str | None = None) -> PrinterConfig:
    """Parse ``url``, let ``profile`` (a kiosk's own setting) override the URL's, check both."""
    config = parse_printer_url(url)
    if profile is not None:
        config = replace(config, profile=profile)
    code_page(config.profile, config.codepage)
    return config
