"""``manage.py qcluster``: django-q2's task cluster, handing running work back when stopped.

The same command as django-q2's (this app comes before ``django_q`` in
``INSTALLED_APPS``, so its command takes the name), with one difference: SIGTERM or
SIGINT also marks the stop for every process of the cluster (siganteng.shutdown), so
wake-ups the workers had fetched are handed back unstarted and running jobs and
follow-up deliveries get ``Q_STOP_GRACE_SECONDS`` to finish before their leases are
released for another cluster. ``manage.py serve``, docker-compose and the tests all run
it under this name.
"""

from __future__ import annotations

import os

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from siganteng import shutdown


class GracefulCluster(Cluster):
    def sig_handler(self, signum, frame) -> None:
        shutdown.begin(grace=settings.Q_STOP_GRACE_SECONDS)
        super().sig_handler(signum, frame)


class Command(qcluster.Command):
    help = "Starts the task cluster; when stopped, it hands running work back after Q_STOP_GRACE_SECONDS."

    def handle(self, *args, **options) -> None:
        # As django-q2's handle(), with the shared stop mark created before the cluster forks.
        settings.SECRET_KEY  # noqa: B018  (signing needs it: fail here, not in a worker)
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        shutdown.prepare()
        cluster = GracefulCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
