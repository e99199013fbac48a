"""The mark page tells one story: a course check that refused a mark is a try in its history,
the help under the Analyzer's revision is said of the values shown, and next steps fit the
mark's status as well as its reason (issue 18)."""

import html
import re

import pytest
from django.urls import reverse

from academic_integration.exceptions import Reason, mark_next_step, reason_next_step
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.resync.summary import ProblemGroup
from tests.academic_integration import resync_fixtures
from tests.academic_integration.resync_fixtures import due_marks, run_command

pytestmark = pytest.mark.django_db
analyzer, fake = resync_fixtures.analyzer, resync_fixtures.fake


def page_of(response) -> str:
    assert response.status_code == 200
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_a_course_check_that_refused_a_mark_is_a_try_in_its_history(fake, teacher, admin_client):
    [mark] = due_marks(1, teacher=teacher, control=fake.control, course="19XW99")
    TutorialMark.objects.filter(pk=mark.pk).update(version=2)
    fake.control.delete_course("19XW99")
    assert run_command()[0] == 4

    mark.refresh_from_db()
    assert (mark.status, mark.reason, mark.tries) == ("rejected", "course_not_found", 1)
    [log] = MarkDeliveryLog.objects.filter(mark=mark)
    assert (log.outcome, log.reason, log.trigger, log.version) == (
        "rejected",
        "course_not_found",
        "resync",
        2,
    )
    assert log.tried_at == mark.last_tried_at
    assert log.error.startswith("Course check before sending: ")

    url = reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    page = page_of(admin_client.get(url))
    assert "No delivery has been tried yet" not in page
    history = page[page.index('id="mark-history"') :]
    assert "Resync command" in history and "Course check before sending" in history
    # The help under the Analyzer's revision says what the values say, not a fixed sentence.
    assert "Equal to the revision above" not in page
    assert "0: no revision of this mark has reached the Analyzer yet; revision 2" in page
    assert "Last tried" in page and "Last sent" not in page


def test_the_revision_help_says_equal_only_when_it_is(fake, teacher, admin_client):
    [mark] = due_marks(1, teacher=teacher, control=fake.control)
    assert run_command()[0] == 0
    url = reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    assert "Equal to the revision above (1)" in page_of(admin_client.get(url))
    TutorialMark.objects.filter(pk=mark.pk).update(version=3, status="pending")
    page = page_of(admin_client.get(url))
    assert "Behind the revision above (3): the Analyzer still holds revision 1" in page


@pytest.mark.parametrize(
    "reason", [Reason.TOKEN_REJECTED, Reason.TOKEN_MISSING, Reason.NOT_THE_ANALYZER]
)
@pytest.mark.parametrize("status", ["pending", "retrying"])
def test_a_due_mark_is_never_told_to_use_retry_after_fixing(reason, status):
    step = reason_next_step(reason, status=status)
    assert "Retry after fixing" not in step
    assert "the next resync sends them" in step and "Resync selected now" in step


def test_a_rejected_mark_is_told_retry_after_fixing_and_a_due_one_is_not():
    rejected = reason_next_step(Reason.NOT_ENROLLED, status="rejected", student_id="23R1")
    assert rejected.endswith("then use Retry after fixing.")
    pending = reason_next_step(Reason.NOT_ENROLLED, status="pending", student_id="23R1")
    assert "Retry after fixing" not in pending and "Resync selected now" in pending


def test_an_html_page_is_described_as_what_it_likely_is_with_how_to_tell():
    step = reason_next_step(Reason.NOT_THE_ANALYZER, status="pending")
    assert "proxy or single-sign-on login page" in step
    assert "the URL is then right" in step
    assert "curl -i" in step and "a login form or a proxy's page is the first" in step


def test_the_mark_page_offers_the_action_its_next_step_names(fake, teacher, admin_client):
    [mark] = due_marks(1, teacher=teacher, control=fake.control)
    fake.control.set_token("regenerated-token")
    assert run_command()[0] == 2
    TutorialMark.objects.filter(pk=mark.pk).update(reason=Reason.TOKEN_REJECTED)
    url = reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    page = page_of(admin_client.get(url))
    assert "restart the site; the marks stay due" in page
    assert "Retry after fixing" not in page[page.index("Next step") :][:600]


def test_a_given_up_mark_has_one_next_step_everywhere(fake, teacher, admin_client):
    [mark] = due_marks(1, teacher=teacher, control=fake.control)
    TutorialMark.objects.filter(pk=mark.pk).update(status="given_up", reason=Reason.UNAVAILABLE)
    step = mark_next_step(Reason.UNAVAILABLE, status="given_up")
    assert step == (
        "Gave up after repeated temporary failures; use Retry after fixing once the Analyzer "
        "is healthy. Last failure: The Academic Analyzer is unavailable (maintenance or proxy "
        "error)."
    )
    url = reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    assert step in page_of(admin_client.get(url))
    listing = reverse("admin:academic_integration_tutorialmark_changelist")
    assert f'title="{step}"' in page_of(admin_client.get(listing))
    group = ProblemGroup(status="given_up", reason=Reason.UNAVAILABLE, courses={"19XW51"})
    assert group.next_step == step
