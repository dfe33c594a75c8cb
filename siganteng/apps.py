from django.apps import AppConfig


class SigantengConfig(AppConfig):
    name = "siganteng"
    verbose_name = "SIGANTENG"

    def ready(self) -> None:
        from django.db import reset_queries
        from django_q import signals as q_signals

        from siganteng import (
            checks,  # noqa: F401  (registers system checks)
            queue,
        )

        # The request id travels with every task (see siganteng.queue).
        q_signals.pre_enqueue.connect(queue.stamp_request_id, dispatch_uid="siganteng.stamp_request_id")
        q_signals.pre_execute.connect(queue.adopt_request_id, dispatch_uid="siganteng.adopt_request_id")
        q_signals.post_execute_in_worker.connect(queue.release_request_id, dispatch_uid="siganteng.release_request_id")
        # A task is a worker's request (and its result the monitor's): with DEBUG on, Django
        # keeps the last 9,000 queries of a connection until a request starts, which in the
        # cluster's processes is never.
        q_signals.pre_execute.connect(reset_queries, dispatch_uid="siganteng.reset_queries_worker")
        q_signals.post_execute.connect(reset_queries, dispatch_uid="siganteng.reset_queries_monitor")
