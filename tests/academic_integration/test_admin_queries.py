"""The admin lists and the health page cost the same number of queries for 10 rows as for 100.

A teacher's page runs two more queries than a superuser's: Django loads their user and group
permissions. Everything else is fixed: the session, the user, one query per filter whose
options come from the database, the count and the rows (annotations and subqueries, never a
query per row).
"""

import pytest

from tests.academic_integration.admin_fixtures import (
    ATTEMPTS_URL,
    HEALTH_URL,
    MARKS_URL,
    QUIZZES_URL,
    client_for,
    log_try,
    make_mark,
)
from tests.factories import make_quiz, make_student, make_teacher

pytestmark = pytest.mark.django_db

STATUSES = {
    "pending": "token_rejected",
    "delivered": "",
    "retrying": "timeout",
    "rejected": "course_not_found",
    "given_up": "unavailable",
}
# session + user + (teacher: 2 permission queries) + page queries.
BASE = {"teacher": 4, "superuser": 2}
PAGE_QUERIES = {
    # reason, course and quiz filter options; count; rows with student and quiz joined
    MARKS_URL: 5,
    # the same for attempts, the mark's status/reason/last try as subqueries of the rows
    ATTEMPTS_URL: 5,
    # course and tutorial filter options; count; rows with their mark counts as subqueries
    QUIZZES_URL: 4,
    # counts by status, oldest undelivered, reasons, last delivery, configuration problems,
    # the breaker and the configuration's rejection (one read of the sync state), the last
    # check_analyzer result of each course (one query)
    HEALTH_URL: 7,
}


def populate(n, *, teacher):
    quizzes = [
        make_quiz(title=f"T{t}", tutorial_number=t, created_by=teacher.email) for t in (1, 2)
    ]
    for i in range(n):
        status = list(STATUSES)[i % len(STATUSES)]
        mark = make_mark(
            quiz=quizzes[i % 2], student=make_student(), status=status, reason=STATUSES[status]
        )
        log_try(mark, outcome=status, reason=STATUSES[status], http_status=401)
    # Another teacher's marks: never shown, and costing nothing per row.
    theirs = make_quiz(
        title="Theirs", course_id="19XW52", tutorial_number=1, created_by=make_teacher().email
    )
    make_mark(quiz=theirs, status="rejected", reason="student_not_found")


@pytest.mark.parametrize("who", ["teacher", "superuser"])
@pytest.mark.parametrize(
    ("url", "params"),
    [
        (MARKS_URL, {}),
        (MARKS_URL, {"status": "failed", "course": "19XW51", "q": "21Z"}),
        (ATTEMPTS_URL, {}),
        (ATTEMPTS_URL, {"status": "undelivered", "reason": "timeout", "tutorial": "2"}),
        (QUIZZES_URL, {}),
        (HEALTH_URL, {}),
    ],
    ids=["marks", "marks-filtered", "attempts", "attempts-filtered", "quizzes", "health"],
)
@pytest.mark.parametrize("n", [10, 100])
def test_query_counts_are_pinned_and_do_not_grow_with_rows(
    n, url, params, who, django_assert_num_queries
):
    teacher = make_teacher(username="anand", email="anand@college.edu")
    populate(n, teacher=teacher)
    user = teacher if who == "teacher" else make_teacher(username="root", is_superuser=True)
    client = client_for(user)
    with django_assert_num_queries(BASE[who] + PAGE_QUERIES[url]):
        response = client.get(url, params)
    assert response.status_code == 200
    if url in (MARKS_URL, ATTEMPTS_URL) and not params:
        shown = response.content.decode().count('class="field-roll_number"')
        assert shown == min(n + (1 if who == "superuser" else 0), 100)  # 100 a page
