"""Project-level rows: the task cluster's heartbeat."""

from django.db import models


class ClusterHeartbeat(models.Model):
    """Written by a scheduled task; ``/readyz`` reports its age. A row proves the whole
    path works: scheduler → broker → worker → database."""

    name = models.CharField(max_length=100, primary_key=True)
    beat_at = models.DateTimeField()
    host = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
