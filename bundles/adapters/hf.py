"""Rows of a Hugging Face dataset read locally with the ``datasets`` library (the optional ``adapters`` extra).

A directory written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` is opened with
``datasets.load_from_disk``; ``.parquet``, ``.jsonl`` and ``.json`` files (or a directory of them) with
``datasets.load_dataset``. Nothing is fetched from the Hub. Row *n* (1-based) is reported as line *n* of its file
or split, e.g. ``train.parquet:7: messages[2].content: …``.
"""

import tempfile
from pathlib import Path

from bundles.problems import ProblemLog

try:
    import datasets
except ImportError:  # the optional extra is not installed
    datasets = None

BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}
SAVED_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


def without_nulls(value):
    """Arrow gives every struct all of its columns' keys: drop those a row left empty (``None``)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def dataset_rows(*, path: Path, log: ProblemLog):
    """Yield ``(label, row number, row)`` for every row; an unreadable dataset is one logged problem."""
    if datasets is None:
        log.add(path.name, None, "", "reading datasets needs the 'datasets' package: pip install '.[adapters]'")
        return
    if path.is_dir() and any((path / marker).is_file() for marker in SAVED_MARKERS):
        try:
            loaded = datasets.load_from_disk(str(path))
        except (OSError, ValueError, FileNotFoundError) as error:
            log.add(path.name, None, "", f"cannot be read as a saved dataset: {error}")
            return
        splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
        for split, dataset in splits:
            label = f"{path.name}[{split}]" if split else path.name
            for index, row in enumerate(dataset):
                yield label, index + 1, without_nulls(row)
        return
    files = sorted(p for p in path.iterdir() if p.suffix in BUILDERS) if path.is_dir() else [path]
    if not files or any(p.suffix not in BUILDERS or not p.is_file() for p in files):
        log.add(path.name, None, "", "is not a saved dataset, nor .parquet / .jsonl / .json files")
        return
    with tempfile.TemporaryDirectory(prefix="imcbench-datasets-") as cache:
        for file in files:
            try:
                dataset = datasets.load_dataset(
                    BUILDERS[file.suffix], data_files=str(file), split="train", cache_dir=cache
                )
            except (OSError, ValueError, datasets.exceptions.DatasetGenerationError) as error:
                log.add(file.name, None, "", f"cannot be read: {error}")
                continue
            for index, row in enumerate(dataset):
                yield file.name, index + 1, without_nulls(row)
