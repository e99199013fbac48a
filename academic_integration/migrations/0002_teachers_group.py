"""Create the Teachers group with only the permissions teachers need."""

from django.db import migrations

TEACHER_PERMISSIONS = {
    "quizzes": [
        "add_quiz",
        "change_quiz",
        "view_quiz",
        "add_question",
        "change_question",
        "delete_question",
        "view_question",
        "add_choice",
        "change_choice",
        "delete_choice",
        "view_choice",
        "view_quizattempt",
        "view_attemptanswer",
    ],
    "academic_integration": ["view_tutorialmark", "view_markdeliverylog"],
}


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make them exist now.
    for app_label in ("quizzes", "academic_integration"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True  # the state-app stub lacks it
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Teachers")
    for app_label, codenames in TEACHER_PERMISSIONS.items():
        perms = Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        group.permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("academic_integration", "0001_initial"),
        ("quizzes", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
