from django.db import migrations

from annotation.default_rubric import DEFAULT_RUBRIC

ROLE_GROUPS = ("clinician", "adjudicator", "researcher")


def create_roles_and_rubric(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Rubric = apps.get_model("annotation", "Rubric")
    RubricDimension = apps.get_model("annotation", "RubricDimension")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)
    rubric, created = Rubric.objects.get_or_create(
        key=DEFAULT_RUBRIC["key"],
        defaults={
            "name": DEFAULT_RUBRIC["name"],
            "description": DEFAULT_RUBRIC["description"],
            "rationale_required_at_or_below": DEFAULT_RUBRIC["rationale_required_at_or_below"],
            "is_default": True,
        },
    )
    if not created:
        return
    for position, dimension in enumerate(DEFAULT_RUBRIC["dimensions"]):
        RubricDimension.objects.create(
            rubric=rubric,
            key=dimension["key"],
            name=dimension["name"],
            description=dimension["description"],
            position=position,
            **{f"anchor_{score}": text for score, text in dimension["anchors"].items()},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_roles_and_rubric, migrations.RunPython.noop)]
