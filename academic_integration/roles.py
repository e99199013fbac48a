"""The Teachers group (quizzes/roles.py) plus what teachers may see of the marks' sync.

Created by migration 0002 and kept by a post_migrate handler: test flushes drop the row.
"""

from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models import Model

from quizzes import roles as quiz_roles

TEACHER_PERMISSIONS = {
    **quiz_roles.TEACHER_PERMISSIONS,
    "academic_integration": ["view_tutorialmark", "view_markdeliverylog"],
}


def teachers_group_ensure(*, apps: Apps = global_apps) -> Model:
    """Create the Teachers group if missing and give it exactly its permissions."""
    return quiz_roles.teachers_group_ensure(permissions=TEACHER_PERMISSIONS, apps=apps)


def teachers_group_after_migrate(sender: AppConfig, **kwargs: Any) -> None:
    teachers_group_ensure(apps=kwargs.get("apps") or global_apps)
