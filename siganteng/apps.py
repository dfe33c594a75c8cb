from django.apps import AppConfig


class SigantengConfig(AppConfig):
    name = "siganteng"
    verbose_name = "SIGANTENG"

    def ready(self) -> None:
        from siganteng import checks  # noqa: F401  (registers system checks)
