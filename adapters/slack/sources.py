"""Search grounding and thoughts on Slack: a context block under the picture whose links are the queries (to their
Google results page) and the sources (to the page that contains them), as Google's display rules ask; and the
thought text of a turn, for the thread reply that shows it apart from the result. The links come from core."""

from __future__ import annotations

from typing import Any

from core.grounding import Grounding

MAX_ELEMENT = 3000  # Slack's limit for one context element's text


def _label(text: str) -> str:
    """Link text that cannot break Slack's `<url|text>` syntax."""
    cleaned = " ".join(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split())
    return cleaned.replace("|", "¦")[:120] or "link"


def _link(url: str, text: str) -> str:
    return f"<{url.replace('|', '%7C').replace('>', '%3E')}|{_label(text)}>"


def grounding_block(grounding: Grounding | None) -> dict[str, Any] | None:
    """The context block: one element of search links, one of source links; None without grounding."""
    if not grounding:
        return None
    elements = []
    if queries := grounding.query_links():
        elements.append("🔎 Searches: " + " · ".join(_link(url, q) for q, url in queries))
    if sources := grounding.source_links():
        elements.append("📄 Sources: " + " · ".join(_link(url, title) for title, url in sources))
    return {"type": "context", "block_id": "grounding",
            "elements": [{"type": "mrkdwn", "text": text[:MAX_ELEMENT]} for text in elements]}


def thoughts_text(thoughts: tuple[str, ...], drafts: int) -> str:
    """The thread reply that shows a turn's thinking apart from the result."""
    lines = [" ".join(t.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for t in thoughts]
    if drafts:
        lines.append(f"_{drafts} draft image{'s' if drafts > 1 else ''} made while thinking (not the result)._")
    return "💭 *Thinking*\n" + "\n".join(lines)
