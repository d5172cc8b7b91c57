import time
from decimal import Decimal, InvalidOperation
from types import ModuleType

from django.core.management.base import BaseCommand, CommandError

from jury import selectors, services
from jury.models import Judge, JudgePrompt, JuryRun
from jury.run_base import RunBase


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


class Command(RunCommand):
    run_model = JuryRun
    services = services
    selectors = selectors
    refusal = services.JuryError
    help = (
        "Create and launch a jury run (judges × prompts × conversations × samples) on Celery, or estimate it with "
        "--dry-run. Without a broker (CELERY_BROKER_URL unset) the run executes in this process."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", default="")
        parser.add_argument("--judge", action="append", default=[], help="Judge key (repeat); default: all active")
        parser.add_argument("--prompt", action="append", default=[], help="key@version (repeat); default: all")
        parser.add_argument("--dimension", action="append", default=[], help="Only prompts of these dimensions")
        parser.add_argument("--model", action="append", default=[], help="Model under test key (repeat)")
        parser.add_argument("--condition", action="append", default=[], choices=["full", "no_image", "no_ehr"])
        parser.add_argument("--samples", type=int, default=1)
        parser.add_argument("--max-attempts", type=int, default=3)
        parser.add_argument("--budget", type=money, default=None, help="Money cap; the run stops cleanly at it")
        parser.add_argument("--concurrency", type=int, default=None, help="Cap on calls in flight per provider")
        parser.add_argument("--dry-run", action="store_true", help="Estimate items, tokens and money; launch nothing")
        parser.add_argument("--demo-judges", action="store_true", help="Create the simulated demo judges first")
        parser.add_argument("--wait", action="store_true", help="Print progress until the run finishes")
        parser.add_argument("--resume", type=int, metavar="RUN", help="Relaunch a run (after a crash)")
        parser.add_argument("--retry-failed", type=int, metavar="RUN", help="Retry a run's failed items")
        parser.add_argument("--cancel", type=int, metavar="RUN", help="Cancel a run")

    def create(self, options) -> JuryRun:
        if options["demo_judges"]:
            services.ensure_demo_judges()
        services.sync_prompts()
        judges = Judge.objects.filter(active=True)
        if options["judge"]:
            judges = Judge.objects.filter(key__in=options["judge"])
            missing = set(options["judge"]) - set(judges.values_list("key", flat=True))
            if missing:
                raise CommandError(f"unknown judge(s): {', '.join(sorted(missing))}")
        prompts = JudgePrompt.objects.exclude(template="")
        if options["prompt"]:
            wanted = [ref.partition("@") for ref in options["prompt"]]
            prompts = [p for p in prompts if any(p.key == k and p.version == v for k, _, v in wanted)]
            if len(prompts) != len(wanted):
                raise CommandError(f"unknown prompt(s) among {', '.join(options['prompt'])}")
        if options["dimension"]:
            prompts = [p for p in prompts if p.dimension in options["dimension"]]
        selection = {k: options[n] for k, n in (("models", "model"), ("conditions", "condition")) if options[n]}
        return services.create_run(
            name=options["name"] or f"CLI run {time.strftime('%Y-%m-%d %H:%M')}",
            judges=list(judges),
            prompts=list(prompts),
            selection=selection,
            samples=options["samples"],
            max_attempts=options["max_attempts"],
            budget=options["budget"],
            concurrency=options["concurrency"],
        )

    def estimate_text(self, run, estimate) -> str:
        return (
            f"estimate for run {run.pk}: {estimate['items']} items, {estimate['cached']} cached, "
            f"{estimate['calls']} provider calls, ~{estimate['input_tokens']:,} input and "
            f"~{estimate['output_tokens']:,} output tokens, ~${Decimal(estimate['cost']):.4f}"
            + (f"; {estimate['unbuildable']} cannot be built: {estimate['error']}" if estimate["unbuildable"] else "")
        )
