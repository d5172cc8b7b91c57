import time
from decimal import Decimal

from django.core.management.base import CommandError

from annotation.models import Conversation
from engine.commands import RunCommand, money
from generation import selectors, services
from generation.models import GenerationRun


class Command(RunCommand):
    run_model = GenerationRun
    services = services
    selectors = selectors
    refusal = services.GenerationError
    run_noun = "generation run"
    item_noun = "conversation"
    help = (
        "Generate conversations: the patient simulator talks with each model under test, for cases × models × "
        "conditions. Estimate with --dry-run. Without a broker (CELERY_BROKER_URL unset) the run executes in "
        "this process."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", default="")
        parser.add_argument("--model", action="append", default=[], help="Model under test key (repeat); default: all")
        parser.add_argument("--condition", action="append", default=[], choices=list(services.CONDITIONS))
        parser.add_argument("--case", action="append", default=[], help="Case id (repeat); default: every case")
        parser.add_argument("--specialty", action="append", default=[], help="Only cases of this specialty (repeat)")
        parser.add_argument("--max-turns", type=int, default=4, help="Exchanges at most (default 4)")
        parser.add_argument("--seed", type=int, default=0, help="Seeds the patient simulator")
        parser.add_argument("--patient-provider", default="simulated")
        parser.add_argument("--patient-model", default="simulated/patient", help="The patient simulator's model id")
        parser.add_argument(
            "--patient-prices", nargs=2, type=money, metavar=("IN", "OUT"), default=(Decimal("0"), Decimal("0"))
        )
        parser.add_argument("--budget", type=money, default=None, help="Money cap; the run stops cleanly at it")
        parser.add_argument("--concurrency", type=int, default=None, help="Cap on calls in flight per provider")
        parser.add_argument(
            "--simulated-endpoints",
            action="store_true",
            help="First give every model under test without an endpoint a simulated one (the offline demo)",
        )
        parser.add_argument("--dry-run", action="store_true", help="Estimate calls, tokens and money; launch nothing")
        parser.add_argument("--wait", action="store_true", help="Print progress until the run finishes")
        parser.add_argument("--resume", type=int, metavar="RUN", help="Relaunch a run (after a crash or budget stop)")
        parser.add_argument("--retry-failed", type=int, metavar="RUN", help="Retry a run's failed conversations")
        parser.add_argument("--cancel", type=int, metavar="RUN", help="Cancel a run")
        parser.add_argument("--show", metavar="KEY", help="Print one conversation's transcript and provenance")

    def handle(self, *args, **options):
        if options["show"]:
            self._show(options["show"])
            return
        super().handle(*args, **options)

    def resume(self, run: GenerationRun, options) -> GenerationRun:
        return services.launch_run(run=run, budget=options["budget"])

    def create(self, options) -> GenerationRun:
        if options["simulated_endpoints"]:
            services.ensure_simulated_endpoints()
        models = selectors.models_with_endpoints()
        if options["model"]:
            models = models.filter(key__in=options["model"])
            missing = set(options["model"]) - set(models.values_list("key", flat=True))
            if missing:
                raise CommandError(f"no model with an endpoint called {', '.join(sorted(missing))}")
        selection = {k: options[n] for k, n in (("keys", "case"), ("specialties", "specialty")) if options[n]}
        return services.create_run(
            name=options["name"] or f"CLI generation {time.strftime('%Y-%m-%d %H:%M')}",
            models=list(models),
            conditions=options["condition"] or services.CONDITIONS,
            case_selection=selection,
            max_turns=options["max_turns"],
            seed=options["seed"],
            patient_provider=options["patient_provider"],
            patient_model_id=options["patient_model"],
            patient_prices=tuple(options["patient_prices"]),
            budget=options["budget"],
            concurrency=options["concurrency"],
        )

    def estimate_text(self, run: GenerationRun, estimate: dict) -> str:
        return (
            f"estimate for generation run {run.pk}: {estimate['conversations']} conversations, at most "
            f"{estimate['calls']} provider calls ({estimate['patient_calls']} patient, {estimate['model_calls']} "
            f"model), ~{estimate['input_tokens']:,} input and ~{estimate['output_tokens']:,} output tokens, "
            f"~${Decimal(estimate['cost']):.4f} (patient simulator ${Decimal(estimate['patient_cost']):.4f})"
        )

    def _show(self, key: str) -> None:
        conversation = Conversation.objects.filter(key=key).prefetch_related("turns").first()
        if conversation is None:
            raise CommandError(f"no conversation {key}")
        provenance = conversation.extra.get("generation") or {}
        self.stdout.write(f"{conversation.key} ({conversation.condition}, synthetic: {conversation.synthetic})")
        for name in ("patient", "model"):
            side = provenance.get(name) or {}
            self.stdout.write(
                f"  {name}: {side.get('provider')}/{side.get('model_id')} prompt {side.get('prompt')} "
                f"sha256 {str(side.get('prompt_sha256', ''))[:12]}…"
                + (f" seed {side['seed']}" if "seed" in side else "")
            )
        for turn in conversation.turns.all():
            self.stdout.write(f"[{turn.index + 1}] {turn.role}: {turn.content}")
