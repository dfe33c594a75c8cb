from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from jobs.metrics import JobQueueCollector
        from siganteng import metrics

        metrics.register_collector(JobQueueCollector())
