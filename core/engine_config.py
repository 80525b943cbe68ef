"""The engine's settings, read once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from core import catalogue
from core.pixels import DEFAULT_BUDGET

MiB = 1024 * 1024
# Raw bytes per request: base64 inflates by 4/3, so 14 MiB of images and JSON stays near 18.7 MiB on the wire,
# under Gemini's 20 MiB limit on a whole inline request.
RAW_BUDGET = 14 * MiB


@dataclass(frozen=True)
class EngineConfig:
    default_model: str = catalogue.DEFAULT_MODEL
    history_turns: int = 6
    max_concurrency: int = 4
    max_waiting: int = 100
    raw_budget: int = RAW_BUDGET
    progress_interval: float = 5.0
    quota_attempts: int = 4  # a 429 pauses the whole queue, then the request goes again, this many times in all
    quota_delay_s: float = 2.0  # the first pause when Gemini gives no Retry-After; doubled each time, at most 60 s
    search_enabled: bool = True  # BOT_SEARCH=off: --search is refused, and settings cannot turn it on
    pixel_budget: int = DEFAULT_BUDGET  # image pixels decoded at once across all requests (core.pixels)
    store_retry_s: float = 1.0  # the first wait before a write the store refused is tried again (core.backlog)
