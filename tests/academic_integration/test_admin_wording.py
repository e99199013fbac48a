"""Issue 12: admin words that say what happened — each outcome counted, skipped marks never
called delivered, Retry after fixing offers to send at once, the mark page in plain words."""

import re
from html import unescape

import pytest
from django.urls import reverse

from academic_integration.models import TutorialMark
from tests.academic_integration.admin_fixtures import (
    MARKS_URL,
    make_mark,
)
from tests.academic_integration.test_admin_actions import (
    demo_students,
    failed_marks,
    resync,
    run_action,
)

pytestmark = pytest.mark.django_db

__all__ = ["failed_marks"]


def test_resync_counts_each_kind_of_mark_it_did_not_send(analyzer, anand_client, anand_quiz):
    one, two, three = demo_students("21Z201", "21Z202", "21Z203")
    rejected = [
        make_mark(quiz=anand_quiz, student=s, status="rejected", reason="student_not_found")
        for s in (one, two)
    ]
    delivered = make_mark(quiz=anand_quiz, student=three, status="delivered")
    found = resync(anand_client, [*rejected, delivered])
    texts = " ".join(text for _, text in found)
    assert "1 mark already delivered" in texts
    assert "2 marks rejected by the Analyzer were not sent" in texts
    assert "the selected marks are delivered" not in texts
    assert analyzer.control.received() == []


def test_retry_after_fixing_offers_a_button_that_sends_at_once(
    analyzer, anand_client, failed_marks
):
    page = anand_client.post(
        MARKS_URL,
        {"action": "retry_after_fixing", "_selected_action": [m.pk for m in failed_marks]}
        | {"index": "0"},
        follow=True,
    )
    assert '<button type="submit" class="button">Send them now</button>' in page.content.decode()
    form = next(m.message for m in page.context["messages"] if "Send them now" in m.message)
    assert {m.status for m in TutorialMark.objects.all()} == {"pending"}
    assert analyzer.control.received() == []
    # The button posts Resync selected now for the same marks.
    action = re.search(r'<form method="post" action="([^"]+)"', form).group(1)
    fields = re.findall(r'name="([^"]+)" value="([^"]*)"', form)
    data = {}
    for name, value in fields:
        data.setdefault(name, []).append(unescape(value))
    assert unescape(action) == MARKS_URL
    assert data["action"] == ["resync_now"]
    assert sorted(map(int, data["_selected_action"])) == sorted(m.pk for m in failed_marks)
    response = anand_client.post(action, data, follow=True)
    messages = [m.message for m in response.context["messages"]]
    assert any(text.startswith("2 marks delivered") for text in messages), messages
    assert {m.status for m in TutorialMark.objects.all()} == {"delivered"}


def test_retry_after_fixing_and_send_now_is_one_click(analyzer, anand_client, failed_marks):
    found = run_action(anand_client, "retry_and_send_now", failed_marks)
    assert found[0] == ("info", "2 marks back to pending; sending the selected marks now.")
    assert any(text.startswith("2 marks delivered") for _, text in found)
    assert {m.status for m in TutorialMark.objects.all()} == {"delivered"}


def test_the_mark_page_uses_plain_words(anand_client, anand_quiz):
    mark = make_mark(quiz=anand_quiz, status="retrying", reason="timeout")
    page = anand_client.get(
        reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    )
    html = page.content.decode()
    for internal in ("Unsettled until", "Delivered version", "Due since", "Next try at"):
        assert internal not in html
    for plain in (
        "Double-check after",
        "Revision the Analyzer holds",
        "Waiting to be delivered since",
        "Next automatic try",
        "might still apply that older value",
    ):
        assert plain in html


def test_retrying_marks_without_a_next_try_time_are_not_given_the_current_time():
    from django.contrib import messages

    from academic_integration.admin import resync_messages
    from academic_integration.resync.summary import ResyncSummary

    summary = ResyncSummary(retrying=2)
    assert summary.next_try_at is None
    assert resync_messages(summary) == [
        (
            messages.WARNING,
            "2 marks hit a temporary problem and will be retried automatically.",
        )
    ]
