"""The baseline of benchmark 3: the resync loop as the original design review sketched it.

`../shared/background/original-design-review.md`, "Add Admin Command to Resync Failed
Attempts": walk every completed tutorial attempt that is not `marks_synced`, and for each one
resolve the teacher email, `requests.post` its score (a new connection per call, one at a
time, `timeout=10`) and, when the answer says success, set `marks_synced` and `save()`.
Unchanged otherwise — so one query per related object per attempt, one POST per attempt (a
retake is a second POST), and no idea of marks, versions, backoff or course checks. Two
additions only, both needed to run it here: the bearer token the Analyzer now requires, and an
optional `attempts` filter so that the benchmark can time it on a sample.

Benchmark code only: nothing in the site uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.utils import timezone

from quizzes.models import QuizAttempt


@dataclass
class NaiveSummary:
    attempts: int = 0
    synced: int = 0
    failed: int = 0


def naive_resync(*, api_base_url: str, token: str | None = None, attempts=None) -> NaiveSummary:
    """Sync every unsynced completed tutorial attempt (or those in `attempts`), one by one."""
    failed_syncs = QuizAttempt.objects.filter(
        quiz__quiz_type="tutorial", marks_synced=False, completed_at__isnull=False
    )
    if attempts is not None:
        failed_syncs = failed_syncs.filter(pk__in=attempts)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    summary = NaiveSummary()
    for attempt in failed_syncs:
        summary.attempts += 1
        quiz = attempt.quiz
        if not (quiz.quiz_type == "tutorial" and quiz.tutorial_number and quiz.course_id):
            continue
        if attempt.score is None:  # failed syncs are of completed, scored attempts
            continue
        student_roll_number = attempt.student.username
        teacher_email = _teacher_email(api_base_url, quiz, headers)
        scaled_score = float(attempt.score)
        try:
            response = requests.post(
                f"{api_base_url}/staff/update-student-marks",
                json={
                    "studentId": student_roll_number,
                    "courseId": quiz.course_id,
                    "teacherEmail": teacher_email,
                    "marks": {f"tutorial{quiz.tutorial_number}": scaled_score},
                },
                headers=headers,
                timeout=10,
            )
            marks_data = response.json()
        except (requests.RequestException, ValueError):
            summary.failed += 1
            continue
        if marks_data.get("success"):
            attempt.marks_synced = True
            attempt.last_sync_at = timezone.now()
            attempt.save()
            summary.synced += 1
        else:
            summary.failed += 1
    return summary


def _teacher_email(api_base_url: str, quiz, headers) -> str:
    # The review's chain: the quiz creator, the course's instructor, a generated address
    # (the session step does not exist outside a request).
    if quiz.created_by.email:
        return quiz.created_by.email
    try:
        detail = requests.get(
            f"{api_base_url}/staff/course-detail",
            params={"courseId": quiz.course_id},
            headers=headers,
            timeout=10,
        ).json()
        instructor = (detail.get("course") or {}).get("instructor") or {}
        if instructor.get("email"):
            return instructor["email"]
    except (requests.RequestException, ValueError):
        pass
    return f"teacher_{quiz.course_id.lower()}@psgtech.ac.in"
