import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class AcademicIntegrationConfig(AppConfig):
    name = "academic_integration"
    verbose_name = "Academic Analyzer sync"

    def ready(self):
        from django.conf import settings

        if not settings.ACADEMIC_ANALYZER_URL:
            logger.info(
                "Academic Analyzer sync is disabled (ACADEMIC_ANALYZER_URL is not set): "
                "tutorial marks are recorded and stay pending until it is configured"
            )
