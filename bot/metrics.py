"""Prometheus metrics (`GET /metrics` on the health port): the engine's observer, counting into a registry of its
own (so several engines in one test process never clash), plus gauges read from the engine when scraped."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.observe import Observer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.5, 1, 2, 4, 8, 15, 30, 60, 120)


class _EngineGauges(Collector):
    def __init__(self, stats: Callable[[], dict[str, object]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._stats()
        for name, key, what in (
            ("bot_queue_depth", "queue_depth", "Requests waiting for a Gemini slot in this process"),
            ("bot_calls_in_flight", "in_flight", "Gemini calls in flight in this process"),
            ("bot_active_requests", "active_requests", "Requests being handled by this process"),
        ):
            value = stats.get(key, 0)
            yield GaugeMetricFamily(name, what, value=float(value) if isinstance(value, int | float) else 0.0)


class Metrics(Observer):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("bot_generation_seconds", "Gemini generation latency", ["model"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.failures = Counter("bot_failures", "Requests answered with a failure", ["kind", "reason"],
                                registry=self.registry)
        self.images = Counter("bot_images", "Images made", ["model", "size"], registry=self.registry)
        self.spend = Counter("bot_spend_usd", "Estimated spend in US dollars", ["model", "size"],
                             registry=self.registry)
        self.duplicates = Counter("bot_events_deduplicated", "Events already answered (claimed by a process)",
                                  ["kind"], registry=self.registry)

    def watch(self, stats: Callable[[], dict[str, object]]) -> None:
        """Report the engine's queue depth and calls in flight at each scrape."""
        self.registry.register(_EngineGauges(stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def generated(self, model: str, seconds: float) -> None:
        self.latency.labels(model).observe(seconds)

    def failed(self, kind: str, reason: str | None) -> None:
        self.failures.labels(kind, reason or "").inc()

    def produced(self, model: str, size: str | None, images: int, usd: float) -> None:
        self.images.labels(model, size or "default").inc(images)
        self.spend.labels(model, size or "default").inc(usd)

    def deduplicated(self, kind: str) -> None:
        self.duplicates.labels(kind).inc()
