"""Typed failures of the cloud API, each worded with the contract's remedy (contract.REMEDIES).

`ApiError.code` is the envelope code (or the HTTP status for 400/402/429), so
callers branch on meaning, never on message text. Messages never carry a token
or a client id: they are built from codes and the service's message only.
"""

from __future__ import annotations

from ...errors import MediaError, NemoflowError, TransientError
from . import contract


class ApiError(NemoflowError):
    """The service answered with a non-zero code (or a status the contract names)."""

    exit_code = 1

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class AuthError(ApiError):
    """1001 with a user token, or anonymous tokens refused: only the user can fix it."""

    exit_code = 2


class SessionLost(ApiError):
    """1002: the session is gone; the engine opens a new one and re-uploads (callers normally never see this)."""


class NoCredits(ApiError):
    exit_code = 2


class PlanBlocked(ApiError):
    exit_code = 2


class RateLimited(ApiError):
    exit_code = 1


class UploadRefused(MediaError):
    """4001 / 4002, or the same found before sending a byte."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class ServiceUnavailable(TransientError):
    """Connection failures and 5xx answers that outlived the retries (the runner may retry the whole step)."""


class StreamDropped(TransientError):
    """An SSE stream ended without its end-of-body marker and the state shows no change yet."""


def no_credits(registered: bool, bind_id: str | None) -> NoCredits:
    if registered or not bind_id:
        remedy = contract.REMEDIES[contract.NO_CREDITS]
    else:
        remedy = ("register to keep working (this anonymous token's free credits are spent): "
                  + contract.REGISTER_URL.format(bind=bind_id))
    return NoCredits(f"the NemoVideo account has no credits left (code {contract.NO_CREDITS}); {remedy}", code=contract.NO_CREDITS)
