from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AcademicIntegrationConfig(AppConfig):
    name = "academic_integration"
    verbose_name = "Academic Analyzer sync"

    def ready(self):
        from academic_integration import checks  # noqa: F401 - registers the system checks
        from academic_integration.roles import teachers_group_after_migrate

        # Sent for this (last) app after every app's permissions exist.
        post_migrate.connect(teachers_group_after_migrate, sender=self)
