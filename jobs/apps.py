from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = _("Jobs")

    def ready(self) -> None:
        from jobs.metrics import JobQueueCollector
        from siganteng import metrics

        metrics.register_collector(JobQueueCollector())
