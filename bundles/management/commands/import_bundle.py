import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bundles.adapters import ADAPTERS
from bundles.adapters.mapping import FIELDS, load_mapping
from bundles.importer import import_bundle
from bundles.problems import BundleInvalid


class Command(BaseCommand):
    help = (
        "Import a benchmark bundle (a directory or a .zip), or with --from a chat log or dataset "
        "(docs/adapters.md). All or nothing: any problem changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--from", dest="adapter", choices=sorted(ADAPTERS), help="Read another format")
        parser.add_argument("--mapping", type=Path, help="JSON or TOML file: fields, roles and defaults")
        for name in FIELDS:
            parser.add_argument(
                f"--{name.replace('_', '-')}-key", dest=f"key_{name}", metavar="KEY", help=f"metadata key of {name}"
            )

    def handle(self, *args, path: Path, adapter: str | None, mapping: Path | None, **options):
        started = time.perf_counter()
        overrides = {name: options[f"key_{name}"] for name in FIELDS if options.get(f"key_{name}")}
        try:
            if adapter:
                report = ADAPTERS[adapter](path=path, mapping=load_mapping(path=mapping, overrides=overrides))
            elif mapping or overrides:
                raise CommandError("--mapping and --*-key options need --from")
            else:
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
