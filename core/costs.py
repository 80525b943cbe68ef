"""What images cost: a price table per model and size, a turn's cost from its token usage, and the estimate that
a request reserves against the budgets before Gemini is called.

Prices follow Google's published Gemini API pricing (USD): input per million tokens, and per output image at
each size (an image is a fixed number of output tokens, per Google's resolution tables). Operators override
the per-image prices with `BOT_PRICES` when Google changes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.options import resolve_model


@dataclass(frozen=True)
class ModelPrice:
    input_per_mtok: float  # USD per million input tokens (text and images)
    image: dict[str, float]  # USD per output image, by size ("1K" is used for models without sizes)
    image_tokens: dict[str, int]  # output tokens Google counts per image, by size

    def output_rate(self, size: str) -> float:
        """USD per output token at this size."""
        return self.image[size] / self.image_tokens[size]


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gemini-2.5-flash-image": ModelPrice(0.30, {"1K": 0.039}, {"1K": 1290}),
    "gemini-3.1-flash-image-preview": ModelPrice(
        0.50, {"512px": 0.045, "1K": 0.067, "2K": 0.101, "4K": 0.151},
        {"512px": 747, "1K": 1120, "2K": 1120, "4K": 2000},
    ),
    "gemini-3-pro-image-preview": ModelPrice(
        2.00, {"1K": 0.134, "2K": 0.134, "4K": 0.24}, {"1K": 1120, "2K": 1120, "4K": 2000}
    ),
}
ESTIMATED_INPUT_TOKENS = 2_000  # a prompt plus a little history; input is a small share of an image's price


@dataclass(frozen=True)
class Prices:
    table: dict[str, ModelPrice] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    @classmethod
    def with_overrides(cls, overrides: dict[tuple[str, str], float]) -> Prices:
        """Per-image prices replaced: {(model, size): usd}."""
        table = dict(DEFAULT_PRICES)
        for (model, size), usd in overrides.items():
            price = table[model]
            table[model] = ModelPrice(price.input_per_mtok, {**price.image, size: usd}, price.image_tokens)
        return cls(table)

    def _price(self, model: str, size: str | None) -> tuple[ModelPrice, str]:
        price = self.table[resolve_model(model).name]
        size = size if size in price.image else "1K"
        return price, size

    def estimate(self, model: str, size: str | None, input_images: int = 0) -> float:
        """What one request is reserved at: one image at its size, plus a generous input allowance."""
        price, size = self._price(model, size)
        input_tokens = ESTIMATED_INPUT_TOKENS + 1_300 * input_images
        return price.image[size] + input_tokens * price.input_per_mtok / 1e6

    def cost(self, model: str, size: str | None, prompt_tokens: int, output_tokens: int) -> float:
        """A turn's cost from Gemini's `usageMetadata`."""
        price, size = self._price(model, size)
        return prompt_tokens * price.input_per_mtok / 1e6 + output_tokens * price.output_rate(size)


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
        overrides[(spec.name, size)] = value
    return overrides
