"""What the engine tells an observer (the composition root's metrics): a port with a do-nothing default, so core
knows no metrics library."""

from __future__ import annotations


class Observer:
    """Each hook is called on the event loop and must not block; the defaults ignore everything."""

    def generated(self, model: str, seconds: float) -> None:
        """A Gemini call answered (successfully) after `seconds`."""

    def failed(self, kind: str, reason: str | None) -> None:
        """A request was answered with a failure of this kind (Gemini's own reason where there is one)."""

    def produced(self, model: str, size: str | None, images: int, usd: float) -> None:
        """Images made and what they cost."""

    def deduplicated(self, kind: str) -> None:
        """An event of `kind` (a Slack event, a button press...) was already claimed: it is not answered again."""
