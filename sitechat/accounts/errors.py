"""Problems the accounts domain raises; each has a stable `type` slug."""

from __future__ import annotations

from sitechat.core.errors import BadRequest, Conflict, Forbidden, ProblemError, Unauthorized


class EmailTaken(Conflict):
    slug = "email-taken"
    title = "Email unavailable"

    def __init__(self) -> None:
        # Generic on purpose: say no more about the existing account than needed.
        super().__init__("This email address cannot be used; sign in or reset the password.")


class InvalidCredentials(Unauthorized):
    slug = "invalid-credentials"
    title = "Invalid credentials"
    keep_changes = True  # the failed attempt's audit row must persist

    def __init__(self) -> None:
        super().__init__("The email or password is wrong.")


class InvalidRefreshToken(Unauthorized):
    slug = "invalid-refresh-token"
    title = "Invalid refresh token"

    def __init__(self) -> None:
        super().__init__("The refresh token is invalid, expired or revoked; sign in again.")


class RefreshTokenReused(InvalidRefreshToken):
    """A spent refresh token came back: the family is revoked; the client must sign in."""

    keep_changes = True  # the revocation of the family must persist


class InvalidResetToken(BadRequest):
    slug = "invalid-token"
    title = "Invalid token"

    def __init__(self) -> None:
        super().__init__("The token is invalid, expired or already used.")


class WrongPassword(Forbidden):
    slug = "wrong-password"
    title = "Wrong password"

    def __init__(self) -> None:
        super().__init__("The current password is wrong.")


class WeakPassword(ProblemError):
    status = 422
    slug = "weak-password"
    title = "Weak password"


class SoleOwner(Conflict):
    slug = "sole-owner"
    title = "Sole owner"

    def __init__(self) -> None:
        super().__init__(
            "You are the only owner of a shared workspace with other members; "
            "make another member an owner or remove them first."
        )


class LoginThrottled(ProblemError):
    """Too many failed sign-ins for this account or address; says when to try again, not why."""

    status = 429
    slug = "rate-limited"
    title = "Too many attempts"
    keep_changes = True  # the refused attempt's audit row must persist

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "Too many sign-in attempts; try again later.",
            headers={"Retry-After": str(max(1, retry_after_seconds))},
        )


class InvalidExpiry(ProblemError):
    status = 422
    slug = "invalid-expiry"
    title = "Invalid expiry"

    def __init__(self) -> None:
        super().__init__("expires_at must be in the future.")


class RoleTooHigh(Forbidden):
    slug = "role-too-high"
    title = "Role too high"

    def __init__(self) -> None:
        super().__init__("An API key cannot have a higher role than its creator.")
