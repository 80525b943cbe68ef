"""Search grounding as the bot shows it: the queries Gemini ran and the pages its answer drew on.

Google's display rules for grounded results: every search query is shown as a link to its Google results page
("Search Suggestions"), and every source as a link the user recognises as one, to the page that contains it (for
image search, the containing page in one click, never the image file). Both API paths read into `Grounding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

GOOGLE_SEARCH = "https://www.google.com/search?q="
MAX_SHOWN = 10  # platform limits (Discord embeds, Slack context blocks) keep only so many links readable


@dataclass(frozen=True)
class Source:
    title: str
    url: str  # the page that contains the source (for image search: the page, not the image file)


@dataclass(frozen=True)
class Grounding:
    queries: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    image_queries: tuple[str, ...] = ()

    @property
    def all_queries(self) -> tuple[str, ...]:
        return self.queries + tuple(q for q in self.image_queries if q not in self.queries)

    @property
    def billed_queries(self) -> int:
        """Searches Google bills for this answer: each query run, web and image alike."""
        return len(self.queries) + len(self.image_queries)

    def query_links(self) -> list[tuple[str, str]]:
        """(query, its Google results page) for each query, at most MAX_SHOWN."""
        return [(q, search_url(q)) for q in self.all_queries[:MAX_SHOWN]]

    def source_links(self) -> list[tuple[str, str]]:
        """(title, page) for each distinct source, at most MAX_SHOWN; a source without a title shows its host."""
        seen: dict[str, str] = {}
        for source in self.sources:
            if source.url and source.url not in seen and _web(source.url):
                seen[source.url] = source.title or urlsplit(source.url).hostname or source.url
        return [(title, url) for url, title in list(seen.items())[:MAX_SHOWN]]

    def __bool__(self) -> bool:
        return bool(self.all_queries or self.sources)


def search_url(query: str) -> str:
    return GOOGLE_SEARCH + quote_plus(query)


def _web(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def from_metadata(metadata: Any) -> Grounding | None:
    """generateContent's `groundingMetadata` (an SDK object or its JSON) as `Grounding`; None when empty.

    A web chunk's `uri` is the page; an image chunk's `sourceUri` is the page that contains the image (its
    `imageUri`, the image file itself, is never shown).
    """
    if metadata is None:
        return None
    sources = []
    for chunk in _get(metadata, "grounding_chunks", "groundingChunks") or ():
        web, image = _get(chunk, "web"), _get(chunk, "image")
        if web is not None and _get(web, "uri"):
            sources.append(Source(_get(web, "title") or "", _get(web, "uri")))
        elif image is not None and _get(image, "source_uri", "sourceUri"):
            sources.append(Source(_get(image, "title") or "", _get(image, "source_uri", "sourceUri")))
    found = Grounding(
        tuple(_get(metadata, "web_search_queries", "webSearchQueries") or ()),
        tuple(sources),
        tuple(_get(metadata, "image_search_queries", "imageSearchQueries") or ()),
    )
    return found or None


def lines(grounding: Grounding | None) -> list[tuple[str, str]]:
    """The console's lines: ("search", "QUERY URL") per query, then ("source", "TITLE URL") per source."""
    if not grounding:
        return []
    return [("search", f"{q} {url}") for q, url in grounding.query_links()] + [
        ("source", f"{title} {url}") for title, url in grounding.source_links()
    ]


def from_interaction(interaction: Any) -> Grounding | None:
    """An Interaction's grounding: queries from its `google_search_call` steps (by search type), sources from the
    `url_citation` annotations on its output text; None when it searched nothing."""
    web: list[str] = []
    images: list[str] = []
    sources: list[Source] = []
    for step in _get(interaction, "steps") or ():
        kind = _get(step, "type")
        if kind == "google_search_call":
            queries = _get(_get(step, "arguments") or {}, "queries") or ()
            (images if _get(step, "search_type") == "image_search" else web).extend(queries)
        elif kind == "model_output":
            for item in _get(step, "content") or ():
                for note in _get(item, "annotations") or ():
                    if _get(note, "type") == "url_citation" and _get(note, "url"):
                        sources.append(Source(_get(note, "title") or "", _get(note, "url")))
    found = Grounding(tuple(web), tuple(sources), tuple(images))
    return found or None
