"""Create the Teachers group with only the permissions teachers need."""

from django.db import migrations


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from academic_integration.roles import teachers_group_ensure

    # Permissions are normally created after all migrations; make them exist now.
    for app_label in ("quizzes", "academic_integration"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True  # the state-app stub lacks it
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    teachers_group_ensure(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("academic_integration", "0001_initial"),
        ("quizzes", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
