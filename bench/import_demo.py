"""Benchmark: build the demo bundle, import it into a fresh database, re-import it, export it.

Prints wall-clock seconds and peak memory for each step. Runs on the embedded default (a temporary SQLite
database and media folder) unless DATABASE_URL is set.

    .venv/bin/python bench/import_demo.py
"""

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="imcbench-bench-"))
    os.environ.setdefault("IMCBENCH_DATA_DIR", str(work / "data"))
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcbench_site.settings")
    (work / "data").mkdir()

    import django

    django.setup()
    from django.core.management import call_command

    from annotation.models import Conversation, Turn
    from bundles.demo.builder import build_demo_bundle
    from bundles.exporter import export_bundle
    from bundles.importer import import_bundle

    call_command("migrate", verbosity=0)

    def measure(label: str, action):
        tracemalloc.start()
        started = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{label:<34} {seconds:8.2f} s   peak Python memory {peak / 2**20:7.1f} MiB")
        return result

    bundle = measure("build demo bundle", lambda: build_demo_bundle(out_dir=work / "bundle"))
    print(f"{'  bundle size':<34} {folder_size(bundle) / 2**20:8.2f} MiB")
    report = measure("import into an empty database", lambda: import_bundle(path=bundle))
    print(f"{'  created':<34} {report.created}")
    print(f"{'  conversations / turns':<34} {Conversation.objects.count()} / {Turn.objects.count()}")
    again = measure("re-import (changes nothing)", lambda: import_bundle(path=bundle))
    print(f"{'  ':<34} {again.summary()}")
    measure("export to a directory", lambda: export_bundle(out=work / "export"))
    print(f"{'  media stored':<34} {folder_size(work / 'media') / 2**20:8.2f} MiB")
    print(f"{'process peak RSS':<34} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.1f} MiB")
    print(f"(database: {django.db.connection.vendor}; scratch folder {work})")


if __name__ == "__main__":
    main()
