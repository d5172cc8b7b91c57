"""Seeding shared by the benches that need a study at scale: cases and conversations written in bulk.

Imported by ``bench/annotate.py`` and ``bench/load.py`` (``from seeding import ...``: a bench script's own folder is
first on its path); call it after ``django.setup()``.
"""

from collections.abc import Sequence

BATCH = 5000  # conversations per bulk insert, with their turns: memory stays flat at 100,000 conversations


def seed_conversations(
    *, total: int, models: Sequence, cases: int, turns: int, key: str, conditions: Sequence[str] = ("full",)
) -> list[int]:
    """``cases`` cases, each with a patient profile and one 1024 × 768 PNG (one stored file shared by all), and
    ``total`` conversations of ``turns`` turns (patient first) over them, keyed ``<key>-000000`` on. Conversation
    ``i`` is of case ``i mod cases`` and model ``i mod len(models)``; its condition steps through ``conditions``
    once every model has had one, so each model gets each condition. Returns the conversations' ids, in order."""
    import io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image as PILImage

    from annotation.models import Case, Conversation, Image, PatientProfile, Turn

    buffer = io.BytesIO()
    PILImage.new("RGB", (1024, 768), (90, 90, 90)).save(buffer, format="PNG")
    stored = default_storage.save(f"{key}/image.png", ContentFile(buffer.getvalue()))
    made = Case.objects.bulk_create(
        Case(key=f"case-{i:04d}", title=f"Case {i}", specialty="dermatology", diagnosis="naevus") for i in range(cases)
    )
    summary = {"age": 50, "sex": "female", "conditions": ["hypertension"], "medications": ["metformin 500 mg"]}
    PatientProfile.objects.bulk_create(
        PatientProfile(case=case, format="flat", raw={"age": 50}, summary=summary) for case in made
    )
    Image.objects.bulk_create(
        Image(
            case=case,
            bundle_path="images/x.png",
            original=stored,
            original_format="PNG",
            derivative=stored,
            width=1024,
            height=768,
            checksum="0" * 64,
            source="bench",
            license="CC0-1.0",
        )
        for case in made
    )
    ids: list[int] = []
    for start in range(0, total, BATCH):
        rows = Conversation.objects.bulk_create(
            Conversation(
                key=f"{key}-{i:06d}",
                case=made[i % cases],
                model=models[i % len(models)],
                condition=conditions[(i // len(models)) % len(conditions)],
            )
            for i in range(start, min(total, start + BATCH))
        )
        Turn.objects.bulk_create(
            Turn(conversation=c, index=t, role="patient" if t % 2 == 0 else "assistant", content=f"Turn {t} " * 40)
            for c in rows
            for t in range(turns)
        )
        ids.extend(c.pk for c in rows)
    return ids
