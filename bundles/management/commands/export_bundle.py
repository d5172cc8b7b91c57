from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bundles.exporter import export_bundle


class Command(BaseCommand):
    help = "Export every case, conversation, submitted annotation and judgement as a bundle (directory or .zip)."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, required=True, help="New directory, or a path ending in .zip")
        parser.add_argument("--name", default="IMCBench export")
        parser.add_argument("--description", default="")

    def handle(self, *args, out: Path, name: str, description: str, **options):
        try:
            report = export_bundle(out=out, name=name, description=description)
        except FileExistsError as error:
            raise CommandError(str(error)) from None
        counts = ", ".join(f"{kind}: {count}" for kind, count in report.counts.items())
        self.stdout.write(f"Wrote {report.path} ({counts})")
