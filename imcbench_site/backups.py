"""Back up the whole site (database + media files) into one folder, and restore it into an empty site.

A backup folder holds ``database.dump`` (PostgreSQL: ``pg_dump --format=custom``) or ``database.sqlite3`` (the
embedded default: SQLite's online backup), ``media.tar.gz`` (every file under ``MEDIA_ROOT``: images, exports) and
``manifest.json``: the files' SHA-256, and for every table of the project's models its row count and a digest of
its rows. Restoring checks the files against the manifest first, refuses a database that already has tables or a
media folder that already has files (nothing is ever overwritten), and after the restore recomputes every table's
count and digest: a restore that does not reproduce the backup row for row fails and says which table differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection

MANIFEST = "manifest.json"
MEDIA_ARCHIVE = "media.tar.gz"
POSTGRES_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
FORMAT_VERSION = 1


class BackupError(Exception):
    """A backup or restore that cannot go ahead, or did not reproduce what was backed up."""


@dataclass(frozen=True)
class TableState:
    rows: int
    digest: str


def table_states() -> dict[str, TableState]:
    """Row count and SHA-256 of the rows (ordered by primary key, every column) of each table the models name."""
    states = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        columns = [field.attname for field in meta.concrete_fields]
        digest, rows = hashlib.sha256(), 0
        for row in model._base_manager.order_by("pk").values_list(*columns).iterator(chunk_size=2000):
            digest.update(json.dumps(row, sort_keys=True, default=str).encode())
            digest.update(b"\n")
            rows += 1
        states[meta.db_table] = TableState(rows=rows, digest=digest.hexdigest())
    return states


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _postgres_environment() -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = {**os.environ, "PGDATABASE": db["NAME"], "PGUSER": db.get("USER") or "", "PGHOST": db.get("HOST") or ""}
    env["PGPORT"] = str(db.get("PORT") or 5432)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed: install PostgreSQL's client tools (postgresql-client)")
    result = subprocess.run(command, env=_postgres_environment(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def _dump_database(target: Path) -> str:
    if connection.vendor == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target / POSTGRES_DUMP)])
        return POSTGRES_DUMP
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        with sqlite3.connect(target / SQLITE_COPY) as copy:
            connection.connection.backup(copy)
        return SQLITE_COPY
    raise BackupError(f"backups support PostgreSQL and SQLite, not {connection.vendor}")


def _archive_media(target: Path) -> int:
    media = Path(settings.MEDIA_ROOT)
    files = 0
    with tarfile.open(target / MEDIA_ARCHIVE, "w:gz") as archive:
        if media.is_dir():
            for path in sorted(media.rglob("*")):
                if path.is_file():
                    archive.add(path, arcname=str(path.relative_to(media)), recursive=False)
                    files += 1
    return files


def create_backup(*, target: Path) -> dict:
    """Write a backup of the database and the media files into ``target`` (a new or empty folder)."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target}: the backup folder must be new or empty")
    target.mkdir(parents=True, exist_ok=True)
    states = table_states()
    database_file = _dump_database(target)
    media_files = _archive_media(target)
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "database": {"vendor": connection.vendor, "file": database_file},
        "media": {"file": MEDIA_ARCHIVE, "files": media_files},
        "checksums": {name: _sha256(target / name) for name in (database_file, MEDIA_ARCHIVE)},
        "tables": {table: {"rows": s.rows, "digest": s.digest} for table, s in sorted(states.items())},
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(source: Path) -> dict:
    path = Path(source) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{path}: no manifest: not a backup folder") from None
    except json.JSONDecodeError as error:
        raise BackupError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"{path}: format {manifest.get('format')!r}, this version reads {FORMAT_VERSION}")
    for name, expected in manifest["checksums"].items():
        file = Path(source) / name
        if not file.is_file():
            raise BackupError(f"{file}: missing from the backup")
        if _sha256(file) != expected:
            raise BackupError(f"{file}: SHA-256 differs from the manifest: the file is damaged")
    return manifest


def _require_empty_site() -> None:
    tables = connection.introspection.table_names()
    if tables:
        raise BackupError(
            f"the database {settings.DATABASES['default']['NAME']!r} already has {len(tables)} tables: "
            "restore into an empty database (nothing is overwritten)"
        )
    media = Path(settings.MEDIA_ROOT)
    if media.is_dir() and any(media.iterdir()):
        raise BackupError(f"MEDIA_ROOT {media} is not empty: restore into an empty media folder")


def _restore_database(source: Path, manifest: dict) -> None:
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(f"the backup is of a {vendor} database; this site uses {connection.vendor}")
    if vendor == "postgresql":
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              "--dbname", settings.DATABASES["default"]["NAME"], str(source / POSTGRES_DUMP)])  # fmt: skip
    else:
        connection.ensure_connection()
        with sqlite3.connect(source / SQLITE_COPY) as backup:
            backup.backup(connection.connection)


def _restore_media(source: Path) -> None:
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source / MEDIA_ARCHIVE, "r:gz") as archive:
        archive.extractall(media, filter="data")


def restore_backup(*, source: Path) -> dict[str, TableState]:
    """Restore ``source`` into this site's empty database and media folder, then prove every table came back."""
    source = Path(source)
    manifest = read_manifest(source)
    _require_empty_site()
    _restore_database(source, manifest)
    _restore_media(source)
    connection.close()  # the restored schema and rows, read afresh
    states = table_states()
    for table, expected in manifest["tables"].items():
        found = states.get(table)
        if found is None:
            raise BackupError(f"{table}: in the backup but not in the restored database")
        if (found.rows, found.digest) != (expected["rows"], expected["digest"]):
            raise BackupError(f"{table}: restored {found.rows} rows (digest {found.digest[:12]}), the backup had "
                              f"{expected['rows']} (digest {expected['digest'][:12]})")  # fmt: skip
    restored_files = sum(1 for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())
    if restored_files != manifest["media"]["files"]:
        raise BackupError(f"media: restored {restored_files} files, the backup had {manifest['media']['files']}")
    return states
