"""The Teachers group: staff who own courses, author their quizzes and read their results.

Teachers are a quizzes concept (a course's teachers own it), so the group's name and the
quizzes permissions live here; an app that gives teachers more (academic_integration: the
marks' sync pages) adds its own permissions and keeps the group in place after every
`migrate` through `teachers_group_ensure`.
"""

from collections.abc import Mapping

from django.apps import apps as global_apps
from django.db.models import Model

TEACHERS_GROUP = "Teachers"

#: app label -> permission codenames a teacher holds in that app (quizzes' own).
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
        # Per-student exceptions of their courses' quizzes (quizzes/admin_exceptions.py).
        "add_studentexception",
        "change_studentexception",
        "delete_studentexception",
        "view_studentexception",
    ],
}


def teachers_group_ensure(
    *, permissions: Mapping[str, list[str]] = TEACHER_PERMISSIONS, apps=global_apps
) -> Model:
    """Create the Teachers group if missing and give it exactly ``permissions``."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=TEACHERS_GROUP)
    wanted = []
    for app_label, codenames in permissions.items():
        wanted += Permission.objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )
    group.permissions.set(wanted)
    return group
