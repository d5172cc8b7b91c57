"""Back up the database and the media files into one folder (docs/deployment.md, "Backups and restore")."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from imcbench_site.backups import BackupError, create_backup


class Command(BaseCommand):
    help = "Write the database and every media file, with a manifest of checksums and row digests, into a new folder."

    def add_arguments(self, parser):
        parser.add_argument("--to", dest="target", type=Path, required=True, help="a new or empty folder")

    def handle(self, *args, target: Path, **options):
        try:
            manifest = create_backup(target=target)
        except BackupError as error:
            raise CommandError(str(error)) from None
        rows = sum(table["rows"] for table in manifest["tables"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {len(manifest['tables'])} tables ({rows} rows) and {manifest['media']['files']} media "
                f"files into {target}"
            )
        )
