"""`/models`: one line per model this bot can use now, its id first."""

from __future__ import annotations

from core import catalogue
from core.costs import Prices
from core.lineup import Lineup


def model_lines(lineup: Lineup, prices: Prices) -> list[str]:
    """`id · label · short names · status · ratios · sizes · price`, best model first; the default is marked."""
    usable = lineup.usable()
    default = lineup.resolve(None).model.id
    lines = []
    for model in usable:
        names = catalogue.short_names(model, usable)
        sizes = model.sizes or ("1K",)
        costs = sorted({prices.image_price(model.id, size) for size in sizes})
        price = f"${costs[0]:.3f}" + (f"–${costs[-1]:.3f}" if len(costs) > 1 else "") + " per image"
        fields = [
            model.id + (" (default)" if model.id == default else ""),
            model.label if model.known else "not in the bot's catalogue: conservative settings",
            "short: " + (", ".join(names) if names else "none"),
            model.status if model.known else "offered by the API key",
            "ratios " + " ".join(model.ratios),
            "sizes " + (" ".join(model.sizes) if model.sizes else "fixed (about 1K)"),
            price + ("" if model.known else " (estimate)"),
        ]
        lines.append(" · ".join(fields))
    return lines
