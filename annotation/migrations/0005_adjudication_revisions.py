import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def keep_recorded_decisions(apps, schema_editor):
    """Each adjudication recorded before versions existed becomes its own first revision."""
    Adjudication = apps.get_model("annotation", "Adjudication")
    AdjudicationRevision = apps.get_model("annotation", "AdjudicationRevision")
    AdjudicationRevision.objects.bulk_create(
        AdjudicationRevision(
            adjudication=adjudication,
            version=1,
            scores=adjudication.scores,
            note=adjudication.note,
            adjudicator_id=adjudication.adjudicator_id,
        )
        for adjudication in Adjudication.objects.all()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0004_sampling_design_and_selection"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="adjudication",
            name="updated_at",
            field=models.DateTimeField(auto_now=True),
        ),
        migrations.AddField(
            model_name="adjudication",
            name="version",
            field=models.PositiveIntegerField(default=1, help_text="Raised by every later decision; each is kept."),
        ),
        migrations.CreateModel(
            name="AdjudicationRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.PositiveIntegerField()),
                ("scores", models.JSONField(default=dict)),
                ("note", models.TextField(blank=True)),
                ("saved_at", models.DateTimeField(auto_now_add=True)),
                (
                    "adjudication",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="revisions",
                        to="annotation.adjudication",
                    ),
                ),
                (
                    "adjudicator",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "ordering": ["adjudication", "-version"],
                "constraints": [
                    models.UniqueConstraint(fields=("adjudication", "version"), name="unique_adjudication_version")
                ],
            },
        ),
        migrations.RunPython(keep_recorded_decisions, migrations.RunPython.noop),
    ]
