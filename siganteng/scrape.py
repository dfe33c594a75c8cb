"""``GET /metrics``: Prometheus' scrape endpoint, behind a bearer token.

The answer adds up the counters every process wrote to ``METRICS_DIR``
(:class:`ProcessFilesCollector`) and appends what the apps' collectors read from the
database at that moment (siganteng.metrics.register_collector). Without
``METRICS_TOKEN`` (or with ``METRICS_ENABLED`` off) the endpoint does not exist (404): metrics name tenants' providers,
models and, when asked, tenants, so they are never public by accident.
"""

from __future__ import annotations

import hmac
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from siganteng import errors, metrics

# A sample's key in the files, parsed: (family, sample name, labels, help). Keys repeat in
# every process's file and from one scrape to the next; the set is as bounded as the
# metrics' label values, so each is parsed once per process.
_parsed_keys: dict[str, tuple[str, str, tuple[tuple[str, str], ...], str]] = {}


def _parse_key(key: str) -> tuple[str, str, tuple[tuple[str, str], ...], str]:
    parsed = _parsed_keys.get(key)
    if parsed is None:
        family, name, labels, help_text = json.loads(key)
        parsed = _parsed_keys[key] = (family, name, tuple(sorted(labels.items())), help_text)
    return parsed


class ProcessFilesCollector(Collector):
    """The counters and histograms every process wrote to ``path``, added up.

    The same sum as prometheus-client's ``MultiProcessCollector``, with less work per
    scrape: each file's values are added into one number per sample key before anything
    else happens, and a key is turned into its labels once per process rather than once
    per file and scrape. Files of other types (multiprocess gauges, which have
    per-process modes) are left to ``MultiProcessCollector``.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def collect(self) -> Iterable[Metric]:
        totals: dict[str, float] = {}
        types: dict[str, str] = {}
        others = []
        for file in self.path.glob("*.db"):
            kind = file.name.split("_", 1)[0]
            if kind not in ("counter", "histogram"):
                others.append(str(file))
                continue
            for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(file)):
                if key in totals:
                    totals[key] += value
                else:
                    totals[key] = value
                    types[key] = kind

        families: dict[str, Metric] = {}
        buckets: dict[tuple[str, tuple], list[tuple[float, float]]] = defaultdict(list)
        for key, value in totals.items():
            family_name, name, labels, help_text = _parse_key(key)
            family = families.get(family_name)
            if family is None:
                family = families[family_name] = Metric(family_name, help_text, types[key])
            if name.endswith("_bucket"):
                le = next(v for k, v in labels if k == "le")
                buckets[family_name, tuple(kv for kv in labels if kv[0] != "le")].append((float(le), value))
            else:
                family.add_sample(name, dict(labels), value)
        # The files hold each bucket's own count; the exposition wants them cumulative,
        # with the total as ``_count``.
        for (family_name, labels), values in buckets.items():
            running = 0.0
            for le, value in sorted(values):
                running += value
                families[family_name].add_sample(
                    f"{family_name}_bucket", {**dict(labels), "le": floatToGoString(le)}, running
                )
            families[family_name].add_sample(f"{family_name}_count", dict(labels), running)
        yield from families.values()
        if others:
            yield from MultiProcessCollector.merge(others, accumulate=True)


def _authorized(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN or not metrics.ENABLED:
        return errors.not_found_view(request)
    if not _authorized(request):
        response = HttpResponse("Unauthorized: send Authorization: Bearer <METRICS_TOKEN>.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry()
    registry.register(ProcessFilesCollector(settings.METRICS_DIR))
    for collector in metrics.collectors():
        registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
