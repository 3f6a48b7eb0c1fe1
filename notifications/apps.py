from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Alerts and delivery"

    def ready(self) -> None:
        # Celery's autodiscovery only imports tasks.py; the evaluation tasks live beside the
        # evaluation service, so import them here for the worker to know them.
        from notifications import evaluation  # noqa: F401
