"""A throwaway PostgreSQL server for tests and benchmarks: a fresh cluster in a temporary folder, run as the
`postgres` user (PostgreSQL refuses root), listening only on a Unix socket in that folder; a fresh database per
test. Never skipped: if the server binaries are missing, the tests fail and say how to install them."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]


def server_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    if initdb := shutil.which("initdb"):
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install -y postgresql")


def _as_server_user(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@dataclass
class Cluster:
    folder: Path
    bin: Path = field(default_factory=server_bin)
    _names: itertools.count = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.folder}"

    def start(self) -> Cluster:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        subprocess.run(_as_server_user(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                                       "postgres", "--no-sync"), check=True, capture_output=True)
        options = f"-k {self.folder} -c listen_addresses='' -c fsync=off -c max_connections=300"
        subprocess.run(_as_server_user(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                                       str(self.folder / "log"), "-w", "start"), check=True, capture_output=True)
        return self

    def stop(self) -> None:
        subprocess.run(_as_server_user(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                                       "stop"), capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    async def new_database(self) -> str:
        """A fresh, empty database's URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        conn = await asyncpg.connect(host=str(self.folder), user="postgres", database="postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)


def start_cluster() -> Cluster:
    return Cluster(Path(tempfile.mkdtemp(prefix="bot-pg-"))).start()
