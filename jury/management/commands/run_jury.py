import time
from decimal import Decimal

from django.core.management.base import CommandError

from engine.commands import RunCommand, money
from jury import selectors, services
from jury.models import Judge, JudgePrompt, JuryRun


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
