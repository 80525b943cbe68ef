"""The conversation store: threads, turns as lossless Gemini `Content` JSON, content-addressed image blobs, usage,
and the state several bot processes share (claims, leases, reservations, the fleet's pause).

SQLite (the embedded default) and PostgreSQL (several processes) run the same SQL through SQLAlchemy Core.
"""

from core.store.base import STORE_ERRORS
from core.store.database import DatabaseUrlError, database_url, describe
from core.store.records import (
    CONTROLS,
    Content,
    Hold,
    ThreadRecord,
    Totals,
    TurnRecord,
    Usage,
    dehydrate,
    hydrate,
    lock_name,
)
from core.store.schema import MIGRATIONS
from core.store.shared import LeaseTimeout
from core.store.store import Store

__all__ = [
    "CONTROLS", "MIGRATIONS", "STORE_ERRORS", "Content", "DatabaseUrlError", "Hold", "LeaseTimeout", "Store",
    "ThreadRecord", "Totals", "TurnRecord", "Usage", "database_url", "dehydrate", "describe", "hydrate", "lock_name",
]
