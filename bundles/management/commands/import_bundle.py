import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bundles.importer import import_bundle
from bundles.problems import BundleInvalid


class Command(BaseCommand):
    help = "Import a benchmark bundle (a directory or a .zip). All or nothing: any problem changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        started = time.perf_counter()
        try:
            report = import_bundle(path=path)
        except BundleInvalid as error:
            count = len(error.problems)
            raise CommandError(
                f"{path}: the bundle was not imported ({count} problem{'s' if count != 1 else ''}; nothing changed):\n"
                f"{error}"
            ) from None
        self.stdout.write(report.summary())
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        self.stdout.write(f"({time.perf_counter() - started:.1f} s)")
