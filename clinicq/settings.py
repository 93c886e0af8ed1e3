"""The product's settings: the engine's, plus what the parts on top of it need.

The notifier's SMS settings are declared once, in ``notifier.settings.NotifierSettings``; this
module only names the environment variables that fill them.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError
from engine.settings import Settings as EngineSettings
from engine.settings import read_variables, write_variables
from notifier.settings import NotifierSettings

NOTIFIER_VARIABLES: Mapping[str, str] = {
    "encryption_key": "CLINICQ_ENCRYPTION_KEY",
    "sms_provider": "CLINICQ_SMS_PROVIDER",
    "smsc_url": "CLINICQ_SMSC_URL",
    "smsc_login": "CLINICQ_SMSC_LOGIN",
    "smsc_password": "CLINICQ_SMSC_PASSWORD",
    "smsc_sender": "CLINICQ_SMSC_SENDER",
    "smsc_callback_secret": "CLINICQ_SMSC_CALLBACK_SECRET",
}


@dataclass(frozen=True, slots=True)
class Settings(EngineSettings):
    """The engine's settings and the ICU notifier's (SMS through SMSC.ru)."""

    notifier: NotifierSettings = field(default_factory=NotifierSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> typing.Self:
        env = os.environ if env is None else env
        notifier = NotifierSettings(**read_variables(NotifierSettings, NOTIFIER_VARIABLES, env))
        settings = cls(**read_variables(cls, cls.VARIABLES, env), notifier=notifier)
        settings.validate()
        return settings

    def environ(self) -> dict[str, str]:
        return {
            **EngineSettings.environ(self),
            **write_variables(self.notifier, NOTIFIER_VARIABLES),
        }

    def validate(self) -> None:
        EngineSettings.validate(self)
        key = self.notifier.encryption_key
        if key and len(key) != 32:
            raise ConfigError("CLINICQ_ENCRYPTION_KEY must be 64 hex digits (a 32-byte AES key)")

    @property
    def sms_enabled(self) -> bool:
        """The ICU routes need the key that encrypts phone numbers at rest."""
        return bool(self.notifier.encryption_key)

    @property
    def sms_sending(self) -> bool:
        """The sender worker also needs a login at the SMS provider."""
        return self.sms_enabled and bool(self.notifier.smsc_login)

    def with_notifier(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, notifier=dataclasses.replace(self.notifier, **changes))
