"""The database commands: `python -m bot migrate` and `python -m bot copy-db SOURCE TARGET`."""

from __future__ import annotations

from typing import TextIO

from core.store import Store, describe
from core.store.copy import copy_store


async def migrate(database: str, out: TextIO) -> None:
    """Bring the schema up to date (the bot does this at start-up too) and say what changed."""
    store = await Store.open(database, migrate=False)
    try:
        before, after = await store.migrate()
    finally:
        await store.close()
    where = describe(store.url)
    print(f"{where}: schema {before} -> {after}" if before != after else f"{where}: schema {after}, up to date",
          file=out)


async def copy_db(source: str, target: str, out: TextIO) -> None:
    """Copy every row of `source` into `target`, creating or migrating the target's schema first."""
    origin = await Store.open(source)
    try:
        destination = await Store.open(target)
        try:
            report = await copy_store(origin, destination)
        finally:
            await destination.close()
    finally:
        await origin.close()
    for copied in report:
        print(f"{copied.table}: {copied.added} copied, {copied.read - copied.added} already there", file=out)
