"""The SMS providers the notifier can use, keyed by ``NotifierSettings.sms_provider``.

To add one: write ``gateway_<name>.py`` that answers with ``notifier.gateway``'s verdicts and
register its constructor here.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import ConfigError
from notifier.gateway import SmsGateway
from notifier.gateway_smsc import SmscGateway
from notifier.settings import NotifierSettings


def _smsc(settings: NotifierSettings) -> SmsGateway:
    return SmscGateway(
        settings.smsc_url,
        settings.smsc_login,
        settings.smsc_password,
        sender=settings.smsc_sender,
        timeout=settings.http_timeout,
    )


PROVIDERS: dict[str, Callable[[NotifierSettings], SmsGateway]] = {"smsc": _smsc}


def open_gateway(settings: NotifierSettings) -> SmsGateway:
    """The gateway the settings name; ConfigError at start-up for an unknown provider."""
    try:
        factory = PROVIDERS[settings.sms_provider]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigError(
            f"unknown notifier sms_provider {settings.sms_provider!r} (known: {known})"
        ) from None
    return factory(settings)
