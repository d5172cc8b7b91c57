"""Restore a backup folder into an empty database and media folder, and check every table against it."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from imcbench_site.backups import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore a folder written by `backup` into this site's EMPTY database and media folder, then verify it."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", type=Path, required=True, help="a folder written by `backup`")

    def handle(self, *args, source: Path, **options):
        try:
            states = restore_backup(source=source)
        except BackupError as error:
            raise CommandError(str(error)) from None
        rows = sum(state.rows for state in states.values())
        self.stdout.write(
            self.style.SUCCESS(f"Restored {len(states)} tables ({rows} rows), every one identical to the backup")
        )
