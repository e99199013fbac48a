"""Sync metrics in Prometheus' text format, read with a fixed number of aggregate queries.

Three queries whatever the number of marks: marks by status and reason, the oldest
undelivered and oldest due mark, delivery tries by outcome and trigger. The breaker's state
is read through `breaker_snapshot` alone, so its store can change without touching the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from academic_integration.models import MarkDeliveryLog, TutorialMark

logger = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
BREAKER_STATES = ("closed", "open", "half-open", "unknown")

Status = TutorialMark.Status
UNDELIVERED = (Status.PENDING, Status.RETRYING, Status.REJECTED, Status.GIVEN_UP)
DUE = (Status.PENDING, Status.RETRYING)


@dataclass(frozen=True)
class BreakerSnapshot:
    state: str  # one of BREAKER_STATES
    failures: int


def breaker_snapshot() -> BreakerSnapshot:
    """The inline breaker as it is now; "unknown" (never an error) when its store fails.

    The one place that knows where the breaker lives (in the database: one query).
    """
    from academic_integration.sync_state import snapshot

    try:
        state = snapshot()
    except Exception:  # the metrics must still answer when the breaker's store is down
        logger.warning("metrics: breaker state unreadable, reported as unknown", exc_info=True)
        return BreakerSnapshot(state="unknown", failures=0)
    name = state.get("state", "unknown")
    return BreakerSnapshot(
        state=name if name in BREAKER_STATES else "unknown",
        failures=int(state.get("failures") or 0),
    )


class SyncCollector:
    """A prometheus_client collector that reads the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()

        marks = GaugeMetricFamily(
            "quizsite_tutorial_marks",
            "Tutorial marks by sync status and reason (reason empty when none).",
            labels=["status", "reason"],
        )
        seen = set()
        rows = (
            TutorialMark.objects.order_by()
            .values("status", "reason")
            .annotate(n=Count("pk"))
            .order_by("status", "reason")
        )
        for row in rows:
            marks.add_metric([row["status"], row["reason"]], row["n"])
            seen.add(row["status"])
        for status in Status.values:  # every status present, so alerts see a 0, not a gap
            if status not in seen:
                marks.add_metric([status, ""], 0)
        yield marks

        since = Coalesce("due_since", "created_at")
        oldest = TutorialMark.objects.aggregate(
            undelivered=Min(since, filter=Q(status__in=UNDELIVERED)),
            due=Min(since, filter=Q(status__in=DUE)),
        )
        for key, name, documentation in (
            (
                "undelivered",
                "quizsite_oldest_undelivered_mark_age_seconds",
                "Age of the oldest mark not delivered (pending, retrying, rejected, given up); "
                "0 when none.",
            ),
            (
                "due",
                "quizsite_oldest_due_mark_age_seconds",
                "Age of the oldest mark still to be sent (pending, retrying); 0 when none.",
            ),
        ):
            value = oldest[key]
            age = max((now - value).total_seconds(), 0.0) if value else 0.0
            yield GaugeMetricFamily(name, documentation, value=age)

        tries = CounterMetricFamily(
            "quizsite_mark_delivery_tries",
            "Delivery tries recorded in the mark history, by outcome and trigger.",
            labels=["outcome", "trigger"],
        )
        tried = (
            MarkDeliveryLog.objects.order_by()
            .values("outcome", "trigger")
            .annotate(n=Count("pk"))
            .order_by("outcome", "trigger")
        )
        for tried_row in tried:
            tries.add_metric([tried_row["outcome"], tried_row["trigger"]], tried_row["n"])
        yield tries

        breaker = breaker_snapshot()
        state = GaugeMetricFamily(
            "quizsite_sync_breaker_state",
            "The inline sync circuit breaker: 1 for its current state.",
            labels=["state"],
        )
        for name in BREAKER_STATES:
            state.add_metric([name], 1 if name == breaker.state else 0)
        yield state
        yield GaugeMetricFamily(
            "quizsite_sync_breaker_failures",
            "Consecutive temporary failures counted by the inline breaker.",
            value=breaker.failures,
        )


def metrics_text() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncCollector())
    return generate_latest(registry)
