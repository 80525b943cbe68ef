"""Typed failures: each carries the message a user reads, naming what happened and what to do.

`retryable` says whether sending the same request again may succeed (adapters offer Try again then).
"""

from __future__ import annotations


class Failure(Exception):
    """Base of every failure a user is told about. `retryable`: the same request may well succeed if sent again
    (adapters offer a "Try again" button naming the stored turn)."""

    kind = "error"
    retryable = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (other.message, other.reason) == (self.message, self.reason)

    def __hash__(self) -> int:
        return hash((type(self), self.message, self.reason))


class BadInput(Failure):
    """Something the user sent cannot be used: an empty prompt, a file that is not an image, too big."""

    kind = "bad_input"


class UnsupportedOption(BadInput):
    kind = "unsupported_option"


class Blocked(Failure):
    """Gemini refused: a prompt block or a safety finish; `reason` is Gemini's own code."""

    kind = "blocked"
    retryable = True


class NoImage(Failure):
    """Gemini finished without an image and without an explanation in text."""

    kind = "no_image"
    retryable = True


class QuotaExhausted(Failure):
    """Gemini said 429; `retry_after` is how long it asked us to wait, when it said."""

    kind = "quota"
    retryable = True

    def __init__(self, message: str, *, reason: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class AuthFailed(Failure):
    kind = "auth"


class ModelUnavailable(Failure):
    """Gemini could not be reached or kept failing (5xx, timeouts) after retries."""

    kind = "unavailable"
    retryable = True


class NotFound(Failure):
    kind = "not_found"


class ModelGone(NotFound):
    """Gemini said 404 for the model itself (retired since the bot started, or never offered to this key)."""

    def __init__(self, message: str, *, reason: str | None = None, model: str = "") -> None:
        super().__init__(message, reason=reason)
        self.model = model


class ModelRetired(ModelGone):
    """A model gone mid-run: the thread moved to its replacement, so the same request may well succeed again."""

    retryable = True


class Busy(Failure):
    kind = "busy"
    retryable = True


class LimitReached(Failure):
    kind = "limit"


class StoreUnavailable(Failure):
    """The bot's own database failed (locked past its busy timeout, disk full) before anything was spent."""

    kind = "store"


class Forbidden(Failure):
    kind = "forbidden"


class Cancelled(Failure):
    """The requester withdrew the request while it waited in the queue: what they asked for, not an error."""

    kind = "cancelled"


class Interrupted(Failure):
    """The bot shut down before this request finished; the request is kept, so a Reroll can redo it."""

    kind = "interrupted"
    retryable = True
