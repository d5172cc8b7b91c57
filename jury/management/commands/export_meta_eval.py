from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.models import Campaign
from jury.results.meta_eval import export_meta_evaluation


class Command(BaseCommand):
    help = "Write a HealthBench-style meta-evaluation JSONL: clinician scores, consensus, calibrated jury score."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, help="Campaign key")
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args, campaign: str, out: Path, **options):
        found = Campaign.objects.filter(key=campaign).first()
        if found is None:
            raise CommandError(f"no campaign {campaign!r}")
        try:
            count = export_meta_evaluation(campaign=found, out=out)
        except FileExistsError:
            raise CommandError(f"{out} already exists; choose a new path") from None
        self.stdout.write(f"Wrote {out} ({count} rows)")
