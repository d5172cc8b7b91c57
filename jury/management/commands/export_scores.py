from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from jury.results import exports
from jury.web.exports import export_rows


class Command(BaseCommand):
    help = "Export judgements, clinician annotations or calibrated scores as CSV, JSONL or Parquet, with provenance."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["judgements", "annotations", "scores"])
        parser.add_argument("--format", choices=exports.FORMATS, default="csv")
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--campaign", help="Campaign key: calibration for scores, filter for annotations")

    def handle(self, *args, kind: str, format: str, out: Path, campaign: str | None, **options):
        if out.exists():
            raise CommandError(f"{out} already exists; choose a new path (exports never overwrite)")
        try:
            columns, rows, meta = export_rows(kind=kind, campaign_key=campaign)
        except ValueError as error:
            raise CommandError(str(error)) from None
        out.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with out.open("xb") as handle:
            for chunk in exports.stream(format, columns, rows, meta):
                handle.write(chunk)
                size += len(chunk)
        self.stdout.write(f"Wrote {out} ({size:,} bytes, {kind}, {format})")
