from django.db import migrations

from annotation.default_rubric import install_roles_and_default_rubric


def create_roles_and_rubric(apps, schema_editor):
    install_roles_and_default_rubric(
        group_model=apps.get_model("auth", "Group"),
        rubric_model=apps.get_model("annotation", "Rubric"),
        dimension_model=apps.get_model("annotation", "RubricDimension"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_roles_and_rubric, migrations.RunPython.noop)]
