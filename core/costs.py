"""What images cost: a price table per model and size, a turn's cost from its token usage, and the estimate that
a request reserves against the budgets before Gemini is called.

The prices are the catalogue's (Google's published Gemini API prices, USD): input per million tokens, per output
image at each size (an image is a fixed number of output tokens, per Google's resolution tables), and text and
thinking output per million tokens (Google bills thinking tokens as output). Operators override the per-image
prices with `BOT_PRICES` when Google changes them; a model the catalogue does not know is priced like the dearest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core import catalogue
from core.options import resolve_model


@dataclass(frozen=True)
class ModelPrice:
    input_per_mtok: float  # USD per million input tokens (text and images)
    image: dict[str, float]  # USD per output image, by size ("1K" is used for models without sizes)
    image_tokens: dict[str, int]  # output tokens Google counts per image, by size
    output_per_mtok: float = 0.0  # USD per million text and thinking output tokens

    def output_rate(self, size: str) -> float:
        """USD per output image token at this size."""
        return self.image[size] / self.image_tokens[size]

    @classmethod
    def of(cls, row: catalogue.ModelInfo) -> ModelPrice:
        return cls(row.input_per_mtok, dict(row.image_price), dict(row.image_tokens), row.output_per_mtok)


DEFAULT_PRICES: dict[str, ModelPrice] = {row.id: ModelPrice.of(row) for row in catalogue.MODELS.values()}
ESTIMATED_INPUT_TOKENS = 2_000  # a prompt plus a little history; input is a small share of an image's price
ESTIMATED_THOUGHT_TOKENS = 1_000  # a thinking model's reasoning before the image, reserved generously
# Grounding with Google Search on Gemini 3 models, billed per search query (not per prompt): a free monthly
# allowance per project, then a price per 1,000 queries. Google's pricing page, checked 2026-11-26.
SEARCH_FREE_PER_MONTH = 5_000
SEARCH_USD_PER_1000 = 14.0
ESTIMATED_SEARCH_QUERIES = 3  # reserved for a request with --search: Gemini usually runs one to a few queries


@dataclass(frozen=True)
class Prices:
    table: dict[str, ModelPrice] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    search_per_1000: float = SEARCH_USD_PER_1000
    search_free_per_month: int = SEARCH_FREE_PER_MONTH

    def search_cost(self, queries: int, used_this_month: int = 0) -> float:
        """What `queries` more search queries cost, after `used_this_month` queries of the free allowance."""
        free_left = max(0, self.search_free_per_month - used_this_month)
        return max(0, queries - free_left) * self.search_per_1000 / 1000

    @classmethod
    def with_overrides(cls, overrides: dict[tuple[str, str], float]) -> Prices:
        """Per-image prices replaced: {(model, size): usd}."""
        table = dict(DEFAULT_PRICES)
        for (model, size), usd in overrides.items():
            price = table[model]
            table[model] = ModelPrice(
                price.input_per_mtok, {**price.image, size: usd}, price.image_tokens, price.output_per_mtok
            )
        return cls(table)

    def _price(self, model: str, size: str | None) -> tuple[ModelPrice, str]:
        row = catalogue.lookup(model)
        price = self.table.get(row.id) if row else None
        if price is None:  # a model discovered at start-up that the catalogue does not know
            price = ModelPrice.of(catalogue.conservative(model))
        size = size if size in price.image else "1K"
        return price, size

    def image_price(self, model: str, size: str | None) -> float:
        price, size = self._price(model, size)
        return price.image[size]

    def estimate(self, model: str, size: str | None, input_images: int = 0, searching: bool = False) -> float:
        """What one request is reserved at: one image at its size, plus generous input and thinking allowances, and
        a few search queries at full price when it searches (whether the free allowance covers them is not known
        until Gemini says how many it ran)."""
        price, size = self._price(model, size)
        search = ESTIMATED_SEARCH_QUERIES * self.search_per_1000 / 1000 if searching else 0.0
        input_tokens = ESTIMATED_INPUT_TOKENS + 1_300 * input_images
        thinking = ESTIMATED_THOUGHT_TOKENS * price.output_per_mtok if catalogue.capabilities(model).thinks else 0
        return price.image[size] + (input_tokens * price.input_per_mtok + thinking) / 1e6 + search

    def cost(
        self, model: str, size: str | None, prompt_tokens: int, output_tokens: int, thought_tokens: int = 0
    ) -> float:
        """A turn's cost from Gemini's `usageMetadata`; thinking tokens are billed as (text) output."""
        price, size = self._price(model, size)
        return (
            prompt_tokens * price.input_per_mtok / 1e6
            + output_tokens * price.output_rate(size)
            + thought_tokens * price.output_per_mtok / 1e6
        )


def parse_overrides(text: str) -> dict[tuple[str, str], float]:
    """`pro:4K=0.24,flash=0.039` → {(model, size): usd}; raises ValueError naming the bad entry."""
    overrides: dict[tuple[str, str], float] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        name, _, usd = entry.partition("=")
        model, _, size = name.strip().partition(":")
        try:
            spec = resolve_model(model)
            value = float(usd)
        except Exception as exc:
            raise ValueError(entry) from exc
        size = size.strip().upper().replace("PX", "px") or "1K"
        if value < 0 or (spec.sizes and size not in spec.sizes) or (not spec.sizes and size != "1K"):
            raise ValueError(entry)
        overrides[(spec.id, size)] = value
    return overrides
