"""The Teachers group: staff who author quizzes and watch their marks' sync, nothing more.

Created by migration 0002 and kept in place after every `migrate` (and every test flush)
by a post_migrate handler, since flushes drop data-migration rows but re-run post_migrate.
"""

from django.apps import apps as global_apps

TEACHERS_GROUP = "Teachers"

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
        "view_quizregrade",
        "view_course",
    ],
    "academic_integration": ["view_tutorialmark", "view_markdeliverylog"],
}


def teachers_group_ensure(*, apps=global_apps):
    """Create the Teachers group if missing and give it exactly its permissions."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=TEACHERS_GROUP)
    wanted = []
    for app_label, codenames in TEACHER_PERMISSIONS.items():
        wanted += Permission.objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )
    group.permissions.set(wanted)
    return group


def teachers_group_after_migrate(sender, **kwargs):
    teachers_group_ensure(apps=kwargs.get("apps") or global_apps)
