"""Domain errors: what went wrong in the centre's terms. They know nothing of HTTP;
``civicgrid.api.errors`` maps each to a status code."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain or a service gives; ``code`` is stable for clients.

    ``detail`` is the reason the API answers (in English); ``zh``, if given, the same reason
    in Chinese, for the pages."""

    code = "domain_error"

    def __init__(self, detail: str, zh: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.zh = zh

    @property
    def reason_zh(self) -> str:
        """The reason in Chinese, for the pages (``detail`` where none was given)."""
        return self.zh or self.detail


class TransitionNotAllowed(DomainError):
    """The action cannot be taken from the case's current state."""

    code = "transition_not_allowed"


class RoleNotAllowed(DomainError):
    """The actor's role may not take this action (or the actor is outside the case's scope)."""

    code = "forbidden"


class InvalidInput(DomainError):
    """The request is well-formed but says something impossible (a past deadline, a bad coordinate)."""

    code = "invalid"


class NotFound(DomainError):
    """No such object, or none the actor may see."""

    code = "not_found"


class Conflict(DomainError):
    """The request clashes with what is stored: a duplicate id, a stale version."""

    code = "conflict"


class Unauthenticated(DomainError):
    """No valid credentials."""

    code = "unauthenticated"


class TooManyAttempts(DomainError):
    """Too many failed sign-ins for the account or the client address: refused, even with
    the right password, until the lock ends ``retry_after_seconds`` from now."""

    code = "too_many_attempts"

    def __init__(self, detail: str, retry_after_seconds: int, zh: str | None = None) -> None:
        super().__init__(detail, zh)
        self.retry_after_seconds = retry_after_seconds


class TooLarge(DomainError):
    """A file is larger than the centre accepts."""

    code = "too_large"


class UnsupportedFile(DomainError):
    """A file whose bytes are none of the types the centre keeps (photos and PDF documents)."""

    code = "unsupported_media_type"
