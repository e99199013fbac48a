"""The path of one mark stays short (issue 19): the files of ``academic_integration`` whose code
runs while a submit's mark is recorded, delivered inline and written back."""

import sys
import threading
from pathlib import Path

import pytest
from django.urls import reverse

from academic_integration.models import TutorialMark
from quizzes.models import QuizAttempt
from tests.factories import answers_for

pytestmark = pytest.mark.django_db

APP = Path(__file__).resolve().parents[2] / "academic_integration"
MOST_FILES = 10  # docs/follow-a-mark.md lists them


def test_one_marks_inline_path_runs_code_in_at_most_ten_files_of_the_app(
    analyzer, student_client, quiz, django_capture_on_commit_callbacks
):
    student_client.get(quiz.get_absolute_url())
    attempt = QuizAttempt.objects.filter(quiz=quiz, completed_at__isnull=True).latest("pk")
    ran: set[str] = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(f"{APP}/"):
            ran.add(str(Path(frame.f_code.co_filename).relative_to(APP)))

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = student_client.post(
                reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz)
            )
    finally:
        sys.setprofile(None)
        threading.setprofile(None)

    assert response.status_code == 302
    assert TutorialMark.objects.get().status == "delivered"  # the whole path ran
    assert {"receivers.py", "services/recording.py", "services/writeback.py"} <= ran
    assert len(ran) <= MOST_FILES, sorted(ran)
