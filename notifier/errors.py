"""Errors of the notifier; each is an engine error, so the HTTP edge renders it as JSON.

NotifierError (engine.errors.EngineError, 500 "internal")
├── InvalidInput (ValidationFailed, 422 "invalid")
│   ├── InvalidPhone           "invalid_phone"
│   └── ImplausibleValue       "implausible_value"
├── MessageTooLong (ValidationFailed, 422 "message_too_long")
├── PatientNotFound (NotFound, 404 "patient_not_found")
├── RelativeNotFound (NotFound, 404 "relative_not_found")
├── IllegalTransition (Conflict, 409 "illegal_transition")
└── ConsentConflict (Conflict, 409 "consent_conflict")

Messages never quote a phone number or a vital value: they may reach a log further up.
"""

from __future__ import annotations

from engine.errors import Conflict, EngineError, NotFound, ValidationFailed


class NotifierError(EngineError):
    """Base of every notifier error."""


class InvalidInput(NotifierError, ValidationFailed):
    status = 422
    code = "invalid"


class InvalidPhone(InvalidInput):
    code = "invalid_phone"


class ImplausibleValue(InvalidInput):
    code = "implausible_value"


class MessageTooLong(NotifierError, ValidationFailed):
    status = 422
    code = "message_too_long"


class PatientNotFound(NotifierError, NotFound):
    status = 404
    code = "patient_not_found"


class RelativeNotFound(NotifierError, NotFound):
    status = 404
    code = "relative_not_found"


class IllegalTransition(NotifierError, Conflict):
    status = 409
    code = "illegal_transition"


class ConsentConflict(NotifierError, Conflict):
    status = 409
    code = "consent_conflict"


class PatientExists(NotifierError, Conflict):
    status = 409
    code = "patient_exists"


class PatientNotAdmitted(NotifierError, Conflict):
    status = 409
    code = "patient_not_admitted"
