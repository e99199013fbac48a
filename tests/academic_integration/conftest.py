"""Fixtures shared by the sync tests: a second teacher, both teachers' quizzes and clients.

`teacher` (anand) comes from tests/conftest.py; helpers that are not fixtures live in
admin_fixtures.py and resync_fixtures.py.
"""

import pytest

from tests.academic_integration.admin_fixtures import client_for
from tests.factories import make_quiz, make_teacher


@pytest.fixture
def priya(db):
    return make_teacher(username="priya", email="priya@college.edu")


@pytest.fixture
def quiz(teacher):
    """A published tutorial quiz of anand's (19XW51 tutorial 2), the factory's questions."""
    return make_quiz(created_by=teacher.email, course_id="19XW51", tutorial_number=2)


@pytest.fixture
def anand_quiz(teacher):
    return make_quiz(
        title="Compilers T2", course_id="19XW51", tutorial_number=2, created_by=teacher.email
    )


@pytest.fixture
def priya_quiz(priya):
    return make_quiz(title="OS T1", course_id="19XW52", tutorial_number=1, created_by=priya.email)


@pytest.fixture
def anand_client(teacher):
    return client_for(teacher)


@pytest.fixture
def priya_client(priya):
    return client_for(priya)
