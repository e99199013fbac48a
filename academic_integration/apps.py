from django.apps import AppConfig


class AcademicIntegrationConfig(AppConfig):
    name = "academic_integration"
    verbose_name = "Academic Analyzer sync"
