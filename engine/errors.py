"""Errors the engine raises, each carrying what the HTTP edge needs.

EngineError                 (status 500, code "internal")
├── ConfigError             bad settings or clinic file
├── BadRequest              400 "bad_request"; subclasses set their own codes
│   └── ValidationFailed    422 "invalid"
├── Unauthorized            401 "unauthorized"
├── Forbidden               403 "forbidden"
├── NotFound                404 "<thing>_not_found"
├── Conflict                409 e.g. "illegal_transition", "slot_taken", "queue_empty"
├── PayloadTooLarge         413 "payload_too_large"
├── RateLimited             429 "rate_limited" (with retry_after)
└── Unavailable             503 "unavailable", "rebuilding"
"""

from __future__ import annotations


class EngineError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, *, code: str | None = None, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.detail = detail

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return {"error": body}


class ConfigError(EngineError):
    code = "config"


class BadRequest(EngineError):
    status = 400
    code = "bad_request"


class ValidationFailed(BadRequest):
    status = 422
    code = "invalid"


class Unauthorized(EngineError):
    status = 401
    code = "unauthorized"


class Forbidden(EngineError):
    status = 403
    code = "forbidden"


class NotFound(EngineError):
    status = 404
    code = "not_found"


class Conflict(EngineError):
    status = 409
    code = "conflict"


class PayloadTooLarge(EngineError):
    status = 413
    code = "payload_too_large"


class RateLimited(EngineError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Unavailable(EngineError):
    status = 503
    code = "unavailable"


def from_code(code: str, message: str) -> EngineError:
    """Map a decision's stable error code (from the pure model or a Lua script) to an error."""
    if code.endswith("_not_found"):
        return NotFound(message, code=code)
    if code == "not_yours":
        return Forbidden(message, code=code)
    if code == "invalid":
        return ValidationFailed(message)
    return Conflict(message, code=code)
