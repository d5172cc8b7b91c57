"""The documented backup (`manage.py backup --to DIR`) restores into an empty site with every row and file intact.

The world is a scored campaign with judgements, a saved calibration, a published leaderboard and image files.
It is backed up from the test database, restored by the `restore` command in a separate process into a new empty
database and media folder (as an operator would), and read back independently of the restore's own check.
"""

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from annotation.models import Annotation, Case, Image
from imcbench_site.backups import MANIFEST, MEDIA_ARCHIVE
from jury.models import CalibrationArtifact, Judgement, LeaderboardSnapshot
from jury.results.calibration import save_calibration
from jury.results.leaderboard import publish_leaderboard
from tests.conftest import missing
from tests.factories import CaseFactory, add_image
from tests.workers import database_url

ROOT = Path(__file__).resolve().parents[2]
CHECKED = {  # table → the columns compared row by row with the source
    Annotation._meta.db_table: "id, conversation_id, annotator_id, status, scores, rationale, flags, submitted_at",
    Judgement._meta.db_table: "id, conversation_id, judge_id, prompt_id, dimension, score, rationale, cost",
    CalibrationArtifact._meta.db_table: "id, campaign_id, version, inputs_hash, methods, judgement_ids",
    LeaderboardSnapshot._meta.db_table: "id, calibration_id, content_hash, payload",
    Image._meta.db_table: "id, case_id, original, derivative, checksum",
}


@pytest.fixture
def backed_up_world(scored_world, tmp_path):
    save_calibration(campaign=scored_world)
    publish_leaderboard(campaign=scored_world, user=None)
    for case in Case.objects.filter(conversations__campaigns=scored_world).distinct().order_by("pk")[:3]:
        add_image(case)
    backup = tmp_path / "backup"
    call_command("backup", "--to", str(backup))
    return backup


@pytest.fixture
def small_backup(tmp_path):
    add_image(CaseFactory())
    backup = tmp_path / "small-backup"
    call_command("backup", "--to", str(backup))
    return backup


def sqlite_reader(path):
    def read(sql: str) -> list[tuple]:
        with sqlite3.connect(path) as db:
            return [tuple(str(value) for value in row) for row in db.execute(sql).fetchall()]

    return read


def postgresql_reader(url: str):
    def read(sql: str) -> list[tuple]:
        with psycopg.connect(url, options="-c timezone=UTC") as db:
            return [tuple(str(value) for value in row) for row in db.execute(sql).fetchall()]

    return read


def restore(backup: Path, *, database: str, media: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database, "MEDIA_ROOT": str(media), "DJANGO_SETTINGS_MODULE": ""}
    env.pop("DJANGO_SETTINGS_MODULE")
    return subprocess.run(
        [sys.executable, "manage.py", "restore", "--from", str(backup)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_media_identical(restored: Path) -> None:
    source = Path(settings.MEDIA_ROOT)
    expected = {p.relative_to(source): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    found = {p.relative_to(restored): p.read_bytes() for p in restored.rglob("*") if p.is_file()}
    assert expected, "the world has media files"
    assert found == expected


def assert_rows_identical(read_source, read_restored) -> None:
    """The same raw reader on both sides, so values compare as the database stores them."""
    for table, columns in CHECKED.items():
        sql = f"SELECT {columns} FROM {table} ORDER BY id"  # noqa: S608 — names from CHECKED
        expected = read_source(sql)
        assert expected, f"{table} has rows in the source"
        assert read_restored(sql) == expected, table


@pytest.mark.django_db(transaction=True)
def test_a_sqlite_backup_restores_into_an_empty_site_with_every_row_and_file(backed_up_world, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default's backup; PostgreSQL's is the next test")
    restored_db, restored_media = tmp_path / "restored.sqlite3", tmp_path / "restored-media"
    result = restore(backed_up_world, database=f"sqlite:///{restored_db}", media=restored_media)
    assert result.returncode == 0, result.stderr
    assert "every one identical to the backup" in result.stdout
    assert_rows_identical(sqlite_reader(connection.settings_dict["NAME"]), sqlite_reader(restored_db))
    assert_media_identical(restored_media)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_postgresql_backup_restores_into_an_empty_database_with_every_row_and_file(backed_up_world, tmp_path):
    if connection.vendor != "postgresql":
        missing("PostgreSQL via DATABASE_URL")
    source_url = database_url()
    name = f"restore_{uuid.uuid4().hex[:10]}"
    admin_url = source_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        restored_url = source_url.rsplit("/", 1)[0] + f"/{name}"
        restored_media = tmp_path / "restored-media"
        result = restore(backed_up_world, database=restored_url, media=restored_media)
        assert result.returncode == 0, result.stderr
        assert "every one identical to the backup" in result.stdout
        assert_rows_identical(postgresql_reader(source_url), postgresql_reader(restored_url))
        assert_media_identical(restored_media)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_restoring_over_a_site_that_has_data_is_refused_and_changes_nothing(small_backup):
    cases = list(Case.objects.values_list("pk", "key"))
    with pytest.raises(CommandError, match="restore into an empty database"):
        call_command("restore", "--from", str(small_backup))
    assert list(Case.objects.values_list("pk", "key")) == cases


@pytest.mark.django_db(transaction=True)
def test_a_damaged_backup_is_refused_before_anything_is_restored(small_backup, tmp_path):
    archive = small_backup / MEDIA_ARCHIVE
    archive.write_bytes(archive.read_bytes()[:-10])
    restored_db = tmp_path / "restored.sqlite3"
    result = restore(small_backup, database=f"sqlite:///{restored_db}", media=tmp_path / "m")
    assert result.returncode != 0
    assert f"{archive}: SHA-256 differs from the manifest" in result.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.django_db
def test_a_backup_goes_only_into_a_new_or_empty_folder(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / MANIFEST).write_text("{}")
    with pytest.raises(CommandError, match="must be new or empty"):
        call_command("backup", "--to", str(tmp_path / "old"))
