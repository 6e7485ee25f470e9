"""Backups of a store as one DuckDB file, and restoring one in place of a store.

A backup is taken by the process that holds the store (``mpi serve`` through
``POST /v1/admin/backup``, or ``mpi backup`` when nothing serves it) with
:meth:`~mpi.store.database.Database.copy_to`: one read transaction, consistent
while writes go on. It is written beside its destination and renamed into place,
so a destination never holds half a backup.

:func:`restore` replaces a store file with a backup: never while another process
holds the store, never over an existing store unless told to, and only with a
file that is a store of this service at a schema version it can open, checked
before anything is replaced; the backup is copied beside the store and renamed
over it, so the store is at every moment either the old one or the backup.

A PostgreSQL store is neither backed up nor restored here: PostgreSQL's own
tools (``pg_dump``, ``pg_restore``) do it, and both refuse one saying so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from mpi.errors import StoreError, StoreLocked
from mpi.store.urls import is_postgres_url
from mpi.store.database import Database
from mpi.store.schema import LATEST_VERSION

logger = logging.getLogger(__name__)

#: Tables every store has had since its first schema version: a file without them is not a store.
CORE_TABLES = ("schema_version", "meta", "persons", "source_records", "links", "review_cases", "audit_log")


def backup_to(db: Database, output: str | Path) -> int:
    """Write a consistent copy of the store to ``output`` (beside it first, then renamed); returns its bytes."""
    out = Path(output)
    if not out.parent.is_dir():
        raise StoreError(f"cannot write the backup to {out}: its folder {out.parent} does not exist")
    with _scratch(out.parent) as tmp:
        db.copy_to(tmp)
        os.replace(tmp, out)
    size = out.stat().st_size
    logger.info("store backup written: %s bytes", size)
    return size


@contextlib.contextmanager
def snapshot(db: Database) -> Iterator[Path]:
    """A consistent copy of the store in a temporary file (beside the store), removed when the block ends."""
    folder = Path(db.path).parent if db.path != ":memory:" else Path(tempfile.gettempdir())
    with _scratch(folder) as tmp:
        db.copy_to(tmp)
        yield tmp


@contextlib.contextmanager
def _scratch(folder: Path) -> Iterator[Path]:
    """A path for a new DuckDB file in a private folder made inside ``folder`` (same file system), removed after."""
    private = Path(tempfile.mkdtemp(prefix=".mpi-backup-", dir=folder))
    try:
        yield private / "backup.duckdb"
    finally:
        shutil.rmtree(private, ignore_errors=True)


def check_backup(path: str | Path) -> int:
    """The schema version of a store file, if it is a store of this service this version can open.

    Raises:
        StoreError: no such file, not a DuckDB file, not a store (its tables are missing), or a store of
            a newer schema version than this version knows.
    """
    p = Path(path)
    if not p.is_file():
        raise StoreError(f"{p}: {'a directory, not a backup file' if p.is_dir() else 'no such file'}")
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.Error as e:
        raise StoreError(f"{p} is not a store of this service: not a DuckDB database file "
                         f"({type(e).__name__})") from e
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        missing = [t for t in CORE_TABLES if t not in tables]
        if missing:
            raise StoreError(f"{p} is not a store of this service: it has no table {', '.join(missing)}")
        version = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    finally:
        con.close()
    if version is None:
        raise StoreError(f"{p} is not a store of this service: it has no schema version")
    if version > LATEST_VERSION:
        raise StoreError(f"{p} is a store at schema version {version}, newer than this version's "
                         f"{LATEST_VERSION}: restore it with the version that made it")
    return int(version)


def restore(backup: str | Path, store_path: str | Path, *, force: bool = False) -> int:
    """Put the backup in place of the store file; returns the backup's schema version.

    Refused, before anything is replaced, when the store is held by another
    process (a running service), when a store exists there and ``force`` is
    not given, and when the backup is not a store of this service. The store's
    own write-ahead log is checkpointed first (its content unchanged), so none
    is left to be replayed into the restored file.
    """
    if is_postgres_url(str(store_path)):  # never named in the message: a URL may hold a password
        raise StoreError("a PostgreSQL store is restored with PostgreSQL's own tools (pg_restore of a pg_dump), "
                         "not `mpi restore` of a DuckDB file")
    target = Path(store_path)
    if not target.parent.is_dir():
        raise StoreError(f"cannot restore to {target}: its folder {target.parent} does not exist")
    if target.exists() and not force:
        raise StoreError(f"the store {target} exists: restoring would replace it (add --force to replace it)")
    holding = _hold(target) if target.exists() else None
    tmp = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
    try:
        check_backup(backup)
        shutil.copyfile(backup, tmp)
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        version = check_backup(tmp)  # what is renamed is what was checked
        os.replace(tmp, target)
        wal = target.with_name(target.name + ".wal")
        if wal.exists():  # checkpointed above, so empty of anything the old store needed
            wal.unlink()
        _sync_folder(target.parent)
    finally:
        if holding is not None:
            holding.close()
        tmp.unlink(missing_ok=True)
    logger.info("store restored from a backup at schema version %s", version)
    return version


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform can open a folder to sync it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _hold(target: Path) -> duckdb.DuckDBPyConnection | None:
    """Open the store to be replaced (refused if another process holds it) and checkpoint it; None if unreadable."""
    try:
        con = duckdb.connect(str(target))
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            found = re.search(r"\(PID (\d+)\)", str(e))
            pid = int(found[1]) if found else None
            raise StoreLocked(f"the store {target} is held by another process{f' (PID {pid})' if pid else ''}, "
                              "such as a running `mpi serve`: stop it, then restore", str(target), pid) from e
        logger.warning("the store being replaced cannot be opened (%s); replacing it", type(e).__name__)
        return None
    except duckdb.Error as e:
        logger.warning("the store being replaced cannot be opened (%s); replacing it", type(e).__name__)
        return None
    con.execute("CHECKPOINT")
    return con
