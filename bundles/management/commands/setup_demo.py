import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotation.models import Selection
from bundles.demo.accounts import ensure_demo_accounts
from bundles.demo.builder import build_demo_bundle
from bundles.demo.campaigns import WORKSPACE_KEY, draw_demo_workspace, ensure_demo_campaigns
from bundles.importer import import_bundle
from bundles.problems import BundleInvalid
from jury.models import JuryRun
from jury.services import run_demo_jury


class Command(BaseCommand):
    help = "Build the demo bundle from packaged public images, import it, and create the demo accounts."

    def add_arguments(self, parser):
        parser.add_argument("--bundle-dir", type=Path, default=settings.DATA_DIR / "demo-bundle")
        parser.add_argument("--force", action="store_true", help="Create demo accounts even with DEBUG off.")
        parser.add_argument(
            "--with-jury",
            action="store_true",
            help="Also run the simulated jury over every demo conversation (a few minutes without a broker).",
        )

    def handle(self, *args, bundle_dir: Path, force: bool, with_jury: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Demo accounts have a published password: run with DEBUG on, or pass --force.")
        started = time.perf_counter()
        if not (bundle_dir / "manifest.json").exists():
            build_demo_bundle(out_dir=bundle_dir)
            self.stdout.write(f"Built the demo bundle in {bundle_dir} ({time.perf_counter() - started:.1f} s)")
        try:
            report = import_bundle(path=bundle_dir)
        except BundleInvalid as error:
            raise CommandError(f"The demo bundle did not import:\n{error}") from None
        self.stdout.write(report.summary())
        created = ensure_demo_accounts()
        if created:
            self.stdout.write(f"Created demo accounts: {', '.join(created)}")
        campaigns = ensure_demo_campaigns()
        if campaigns:
            self.stdout.write(f"Created demo campaigns: {', '.join(campaigns)}")
        if with_jury:
            self._run_demo_jury()
            self._draw_demo_workspace()
        self.stdout.write(f"Demo ready in {time.perf_counter() - started:.1f} s")

    def _run_demo_jury(self) -> None:
        from django.contrib.auth import get_user_model

        if JuryRun.objects.filter(judgements__simulated=True).exists():
            self.stdout.write("The simulated demo jury has already run.")
            return
        started = time.perf_counter()
        self.stdout.write("Running the simulated demo jury over every conversation …")
        run = run_demo_jury(created_by=get_user_model().objects.filter(username="admin").first())
        run.refresh_from_db()
        self.stdout.write(f"Jury run {run.name!r}: {run.status} in {time.perf_counter() - started:.0f} s")

    def _draw_demo_workspace(self) -> None:
        from django.contrib.auth import get_user_model

        drawn = draw_demo_workspace(actor=get_user_model().objects.filter(username="admin").first())
        if drawn is not None:
            self.stdout.write(f"Drew {drawn} conversations of {WORKSPACE_KEY} under the active design, targeted "
                              "review first")  # fmt: skip
        elif not Selection.objects.filter(campaign__key=WORKSPACE_KEY).exists():
            self.stdout.write(f"{WORKSPACE_KEY} is drawn under the active design once the jury has scored it: run "
                              "setup_demo --with-jury again when the jury run has completed.")  # fmt: skip
