from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from academic_integration.exceptions import Reason


class TutorialMarkQuerySet(models.QuerySet["TutorialMark"]):
    """The claim rules, in one place: who may send a mark now, and how a claim is taken,
    released and fenced. Services (inline and admin) and the resync all go through these."""

    def due(
        self, *, now: datetime, ignore_backoff: bool = False, include_failed: bool = False
    ) -> TutorialMarkQuerySet:
        """Marks to deliver now: pending, or retrying whose next try has come (any retrying
        one with ``ignore_backoff``), plus rejected and given up with ``include_failed``."""
        Status = TutorialMark.Status
        retrying = Q(status=Status.RETRYING)
        if not ignore_backoff:
            retrying &= Q(next_try_at__lte=now) | Q(next_try_at__isnull=True)
        due = Q(status=Status.PENDING) | retrying
        if include_failed:
            due |= Q(status__in=[Status.REJECTED, Status.GIVEN_UP])
        return self.filter(due)

    def claimed(self, *, now: datetime) -> TutorialMarkQuerySet:
        """Marks someone holds a live claim on: the complement of ``unclaimed(now=now)``."""
        return self.filter(claim_expires_at__gte=now)

    def unclaimed(self, *, now: datetime, owner: str | None = None) -> TutorialMarkQuerySet:
        """Marks nobody holds a live claim on (a lapsed claim counts as none), plus
        ``owner``'s own when given."""
        free = Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lt=now)
        if owner:
            free |= Q(claimed_by=owner)
        return self.filter(free)

    def held_by(self, owner: str) -> TutorialMarkQuerySet:
        """Marks ``owner`` claimed and has not released."""
        return self.filter(claimed_by=owner)

    def claim(self, *, owner: str, until: datetime) -> int:
        """Claim these marks for ``owner`` until ``until``, in one UPDATE; returns how many.

        Call it on ``unclaimed()`` marks: the conditional UPDATE is what makes the claim safe.
        """
        return self.update(claimed_by=owner, claim_expires_at=until)

    def release(self, **fields: Any) -> int:
        """Release these marks' claims, writing ``fields`` in the same UPDATE."""
        return self.update(**fields, claimed_by="", claim_expires_at=None)

    def fence(self) -> int:
        """Make these marks due again with a new version, because a request for them went
        out after their claim was lost: a delivery still in flight then cannot mark them
        delivered, and the value the Analyzer ends with is the current one."""
        return self.update(
            version=F("version") + 1,
            status=TutorialMark.Status.PENDING,
            reason=Reason.OVERLAP,
            next_try_at=None,
        )


class TutorialMark(models.Model):
    """The unit of sync: one student's mark for one tutorial slot of one course.

    `version` goes up with each new `value`; a delivery records its outcome only if the version
    is still the one it sent, so a retake that lands mid-delivery is never lost.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        RETRYING = "retrying", "Retrying"
        REJECTED = "rejected", "Rejected"
        GIVEN_UP = "given_up", "Given up"

    class EmailSource(models.TextChoices):
        QUIZ_CREATOR = "quiz_creator", "Quiz creator"
        COURSE_TEACHER = "course_teacher", "A course teacher the Analyzer lists"
        SESSION = "session", "Staff email in session"
        GENERATED = "generated", "Generated fallback"

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tutorial_marks"
    )
    course_id = models.CharField(max_length=20)
    tutorial_number = models.PositiveSmallIntegerField()
    # The quiz whose attempt last changed the value: its creator and grading method apply.
    quiz = models.ForeignKey("quizzes.Quiz", on_delete=models.PROTECT, related_name="marks")

    value = models.DecimalField(max_digits=4, decimal_places=2)
    version = models.PositiveIntegerField(default=1)
    delivered_version = models.PositiveIntegerField(default=0)
    delivered_value = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reason = models.CharField(max_length=40, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    tries = models.PositiveIntegerField(default=0, help_text="Failed tries since last delivery.")
    next_try_at = models.DateTimeField(null=True, blank=True)
    last_tried_at = models.DateTimeField(null=True, blank=True)
    # When the current undelivered value became due (oldest-undelivered, --since).
    due_since = models.DateTimeField(null=True, blank=True)
    # First temporary failure of the current value: the resync's age cap counts from here.
    failing_since = models.DateTimeField(null=True, blank=True)
    # A timed-out request may still be applied by the Analyzer until then: a newer value
    # delivered before it is sent once more after it.
    unsettled_until = models.DateTimeField(null=True, blank=True)

    claimed_by = models.CharField(max_length=80, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)

    teacher_email = models.EmailField(blank=True)
    teacher_email_source = models.CharField(max_length=20, choices=EmailSource.choices, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TutorialMarkQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "course_id", "tutorial_number"], name="mark_one_per_slot"
            ),
            models.CheckConstraint(
                condition=Q(tutorial_number__gte=1, tutorial_number__lte=4),
                name="mark_tutorial_number_1_to_4",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0, value__lte=10), name="mark_value_0_to_10"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_try_at"], name="mark_due_idx"),
            models.Index(fields=["course_id", "tutorial_number"], name="mark_slot_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.course_id} tutorial{self.tutorial_number} · {self.student_id}"

    def get_absolute_url(self) -> str:
        return reverse("admin:academic_integration_tutorialmark_change", args=[self.pk])

    def is_delivered(self) -> bool:
        return self.status == self.Status.DELIVERED and self.delivered_version == self.version


#: What makes a mark due afresh, with the full retry budget: a new version, a course back on the
#: Analyzer, Retry after fixing, a delivery the Analyzer lost (``.update(**DUE_AFRESH, ...)``).
DUE_AFRESH: dict[str, Any] = {
    "status": TutorialMark.Status.PENDING,
    "reason": "",
    "next_try_at": None,
    "tries": 0,
    "failing_since": None,
}


class MarkDeliveryLog(models.Model):
    """One row per delivery try of a mark: the history the admin shows."""

    class Trigger(models.TextChoices):
        INLINE = "inline", "After submit"
        RESYNC = "resync", "Resync command"
        ADMIN = "admin", "Admin action"

    mark = models.ForeignKey(TutorialMark, on_delete=models.CASCADE, related_name="history")
    tried_at = models.DateTimeField()
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    version = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=4, decimal_places=2)
    outcome = models.CharField(max_length=10, choices=TutorialMark.Status.choices)
    reason = models.CharField(max_length=40, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    teacher_email = models.EmailField(blank=True)
    teacher_email_source = models.CharField(max_length=20, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-tried_at", "-pk"]
        indexes = [models.Index(fields=["mark", "-tried_at"], name="history_mark_idx")]

    def __str__(self) -> str:
        return f"{self.mark_id} v{self.version} {self.outcome}"


class SyncState(models.Model):
    """What sync knows beyond single marks, shared by every process and host of a deployment.

    One row per fact, named by ``key``:

    - ``breaker``: the inline circuit breaker: temporary failures in a row, when it opened,
      when the next inline probe is due. No row: closed.
    - ``config:<hash>``: a configuration (URL and token, hashed, never stored) the Analyzer
      rejected, with ``reason`` and when the next inline probe is due.
    - ``course:<id>``: a course: missing from the Analyzer (``reason`` ``course_not_found``)
      or there; either until ``expires_at``.
    - ``teacher:<hash of the email>``: a teacher as the Analyzer's dashboard lists them:
      unknown (``reason`` ``teacher_not_found``) or the courses they handle (``data``
      ``{"courses": [...]}``), until ``expires_at``.
    - ``answer-time``: a background probe's answer time in ms (``failures``), counted by every
      process's inline budget until ``expires_at``.
    - ``check:<id>``: a course's last ``check_analyzer`` result (``data``, its JSON; ``reason``
      the worst problem's code; ``updated_at`` when), for the sync health page.

    Written only by ``academic_integration.sync_state`` (a test walks the code); why in the
    database: docs/decisions/0004-sync-state-in-the-database.md.
    """

    key = models.CharField(max_length=80, primary_key=True)
    reason = models.CharField(max_length=40, blank=True)
    failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "sync state"

    def __str__(self) -> str:
        return self.key
