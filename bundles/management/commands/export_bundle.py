from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bundles.adapters.chat_export import export_chat
from bundles.exporter import export_bundle


class Command(BaseCommand):
    help = "Export every case, conversation, submitted annotation and judgement as a bundle (directory or .zip)."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, required=True, help="New directory, or a path ending in .zip")
        parser.add_argument("--name", default="IMCBench export")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--format", choices=["bundle", "openai-chat"], default="bundle", help="openai-chat: one JSONL file"
        )

    def handle(self, *args, out: Path, name: str, description: str, format: str, **options):
        if format == "openai-chat":
            try:
                count = export_chat(out=out)
            except FileExistsError:
                raise CommandError(f"{out} already exists; choose a new path") from None
            self.stdout.write(f"Wrote {out} ({count} conversations, OpenAI chat format)")
            return
        try:
            report = export_bundle(out=out, name=name, description=description)
        except FileExistsError as error:
            raise CommandError(str(error)) from None
        counts = ", ".join(f"{kind}: {count}" for kind, count in report.counts.items())
        self.stdout.write(f"Wrote {report.path} ({counts})")
