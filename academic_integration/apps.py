from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AcademicIntegrationConfig(AppConfig):
    """The tutorial marks and their delivery, built on `quizzes`, which never imports this app.

    `ready()` wires the seams: quizzes' signals to our receivers, our marks as quizzes' mark
    source (docs/decisions/0005-signals-as-the-seam.md).
    """

    name = "academic_integration"
    verbose_name = "Academic Analyzer sync"

    def ready(self) -> None:
        from academic_integration import (
            checks,  # noqa: F401 - registers the system checks
            receivers,
        )
        from academic_integration.mark_source import TutorialMarkSource
        from academic_integration.roles import teachers_group_after_migrate
        from quizzes import signals
        from quizzes.marks import mark_source_register

        # Sent for this (last) app after every app's permissions exist.
        post_migrate.connect(teachers_group_after_migrate, sender=self)
        signals.attempt_completed.connect(receivers.attempt_completed, dispatch_uid="mark")
        signals.attempts_regraded.connect(receivers.attempts_regraded, dispatch_uid="marks")
        signals.attempts_completed.connect(receivers.attempts_completed, dispatch_uid="marks")
        mark_source_register(TutorialMarkSource())
