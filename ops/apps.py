from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What operators need without opening a page: deploy checks, metrics, health."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from ops import checks  # noqa: F401  (registers the system checks)
