"""The base of the management commands that create, estimate, launch and follow a run from the shell."""

import time
from decimal import Decimal, InvalidOperation
from types import ModuleType

from django.core.management.base import BaseCommand, CommandError

from engine.models import RunBase


def money(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CommandError(f"--budget {value!r} is not an amount") from None


class RunCommand(BaseCommand):
    """A command that runs leased work from the shell: ``--cancel``, ``--retry-failed``, ``--resume``, or create a
    run, estimate it and launch it (nothing with ``--dry-run``), then print its progress (until done with
    ``--wait``). A command names its run model, services, selectors and words, and defines ``create(options)``
    (a draft run) and ``estimate_text(run, estimate)``."""

    run_model: type[RunBase]
    services: ModuleType  # create_run, estimate_run, launch_run, cancel_run, retry_failed
    selectors: ModuleType  # run_progress, progress_line
    refusal: type[Exception]  # what the services raise for a request they refuse
    run_noun = "run"
    item_noun = "item"

    def handle(self, *args, **options):
        try:
            if options["cancel"]:
                run = self.services.cancel_run(run=self._run(options["cancel"]))
                self.stdout.write(f"{self.run_noun} {run.pk}: {run.get_status_display()}")
                return
            if options["retry_failed"]:
                run = self._run(options["retry_failed"])
                count = self.services.retry_failed(run=run)
                self.stdout.write(f"run {run.pk}: {count} {self.item_noun}(s) queued again")
            elif options["resume"]:
                run = self.resume(self._run(options["resume"]), options)
            else:
                run = self.create(options)
                self.stdout.write(self.estimate_text(run, self.services.estimate_run(run=run)))
                if options["dry_run"]:
                    run.delete()
                    self.stdout.write("dry run: nothing launched")
                    return
                self.services.launch_run(run=run)
                self.stdout.write(f"{self.run_noun} {run.pk} launched")
        except self.refusal as error:
            raise CommandError(str(error)) from None
        self.follow(run, once=not options["wait"])

    def resume(self, run, options) -> RunBase:
        return self.services.launch_run(run=run)

    def _run(self, pk: int):
        run = self.run_model.objects.filter(pk=pk).first()
        if run is None:
            raise CommandError(f"no {self.run_noun} {pk}")
        return run

    def follow(self, run, *, once: bool) -> None:
        while True:
            progress = self.selectors.run_progress(run=run)
            self.stdout.write(self.selectors.progress_line(progress))
            if once or not progress["active"]:
                return
            time.sleep(2)
