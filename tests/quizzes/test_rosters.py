"""Rosters: `manage.py import_roster FILE.csv` and the admin import, all or nothing."""

import time
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from quizzes.models import Course
from quizzes.roster_file import HEADER, RosterError, roster_parse
from quizzes.rosters import roster_import
from tests.academic_integration.admin_fixtures import client_for
from tests.factories import make_course, make_student, make_teacher

User = get_user_model()
HEAD = ",".join(HEADER)

GOOD = f"""{HEAD}
19XW51,Compilers,teacher,anand,Anand Rao,anand@college.edu
19XW51,Compilers,teacher,meena,Meena Iyer,Meena@College.edu
19XW51,Compilers,student,21Z201,Arun K,
19XW51,Compilers,student,21Z202,Bhavya S,bhavya@students.college.edu
19XW52,Operating Systems,teacher,meena,Meena Iyer,Meena@College.edu
19XW52,Operating Systems,student,21Z201,Arun K,
"""


def state():
    """Everything a roster import may change."""
    return (
        sorted(Course.objects.values_list("pk", "name")),
        sorted(
            User.objects.values_list("username", "first_name", "last_name", "email", "is_staff")
        ),
        sorted(Course.teachers.through.objects.values_list("course_id", "user__username")),
        sorted(Course.students.through.objects.values_list("course_id", "user__username")),
        sorted(User.groups.through.objects.values_list("user__username", "group__name")),
    )


def run(text, tmp_path, *args) -> str:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    out = StringIO()
    call_command("import_roster", str(path), *args, stdout=out)
    return out.getvalue()


def test_a_good_file_creates_courses_accounts_and_enrolments(db, tmp_path):
    out = run(GOOD, tmp_path)
    courses, users, teachers, students, groups = state()
    assert courses == [("19XW51", "Compilers"), ("19XW52", "Operating Systems")]
    assert users == [
        ("21Z201", "Arun", "K", "", False),
        ("21Z202", "Bhavya", "S", "bhavya@students.college.edu", False),
        ("anand", "Anand", "Rao", "anand@college.edu", True),
        ("meena", "Meena", "Iyer", "meena@college.edu", True),
    ]
    assert teachers == [("19XW51", "anand"), ("19XW51", "meena"), ("19XW52", "meena")]
    assert students == [("19XW51", "21Z201"), ("19XW51", "21Z202"), ("19XW52", "21Z201")]
    assert groups == [("anand", "Teachers"), ("meena", "Teachers")]
    assert not any(u.has_usable_password() for u in User.objects.all())
    assert "2 course(s) created" in out and "4 new account(s)" in out
    assert "have no password yet" in out


def test_importing_the_same_file_again_changes_nothing(db, tmp_path):
    run(GOOD, tmp_path)
    before = state()
    out = run(GOOD, tmp_path)
    assert state() == before
    assert "Nothing to change: the roster is already in place." in out


def test_existing_users_are_matched_by_username_and_enrolled_unchanged(db, tmp_path):
    arun = make_student(username="21Z201", courses=[], first_name="Arun", email="a@x.edu")
    anand = make_teacher(username="anand", email="anand@college.edu")
    run(GOOD, tmp_path)
    arun.refresh_from_db()
    assert arun.has_usable_password() and arun.email == "a@x.edu"
    assert set(arun.courses_enrolled.values_list("pk", flat=True)) == {"19XW51", "19XW52"}
    assert list(anand.courses_taught.values_list("pk", flat=True)) == ["19XW51"]


# Each after a good row on line 2, which must not be written either.
BAD_ROWS = {
    "unknown role": (
        "19XW51,Compilers,ta,x1,X,x@college.edu",
        "line 3, column role: must be teacher or student (got 'ta')",
    ),
    "missing column": ("19XW51,Compilers,student,x1,X", "line 3: expected 6 columns, got 5"),
    "teacher without email": (
        "19XW51,Compilers,teacher,x1,X,",
        "line 3, column email: required for a teacher (the Academic Analyzer knows teachers "
        "by email)",
    ),
    "bad email": ("19XW51,,student,x1,X,not-an-email", "line 3, column email: not an email"),
    "bad course id": (
        "19XW-,Compilers,student,x1,X,",
        "line 3, column course_id: A course id is 2–20 capital letters, digits and inner hyphens",
    ),
    "bad username": ("19XW51,,student,x 1,X,", "line 3, column username: Enter a valid username"),
    "empty username": ("19XW51,,student,,X,", "line 3, column username: required"),
    "student and teacher": (
        "19XW51,,teacher,x1,X,x@college.edu\n19XW52,,student,x1,X,x@college.edu",
        "line 4, column role: x1 is a teacher on line 3; a person is either a teacher or a student",
    ),
    "two names for one course": (
        "19XW51,Compiler Design,student,x1,X,",
        "line 3, column course_name: course 19XW51 is named 'Compilers' on line 2",
    ),
    "two names for one person": (
        "19XW51,,student,x1,X,\n19XW51,,student,x1,Y,",
        "line 4, column name: x1 has a different name on line 3",
    ),
    "a new course without a teacher": (
        "19XW53,New,student,x1,X,",
        "line 3, column course_id: course 19XW53 needs at least one teacher row",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_is_reported_with_line_and_column_and_nothing_is_written(db, tmp_path, case):
    row, message = BAD_ROWS[case]
    text = f"{HEAD}\n19XW51,Compilers,teacher,good,Good,good@college.edu\n{row}\n"
    before = state()
    with pytest.raises(CommandError) as err:
        run(text, tmp_path)
    assert message in str(err.value)
    assert "nothing imported" in str(err.value)
    assert state() == before


def test_every_bad_row_is_listed_at_once(db, tmp_path):
    text = f"{HEAD}\n19XW51,,ta,x1,X,\n19XW51,,teacher,x2,X,\n19XW51,,student\n"
    with pytest.raises(CommandError) as err:
        run(text, tmp_path)
    assert "line 2, column role" in str(err.value)
    assert "line 3, column email" in str(err.value)
    assert "line 4: expected 6 columns" in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("course,role,username\n", "line 1: the header must be exactly " + HEAD),
        (HEAD + "\n", "line 2: the roster has no rows"),
    ],
)
def test_a_bad_header_or_empty_file_is_refused(db, tmp_path, text, message):
    with pytest.raises(CommandError, match=message):
        run(text, tmp_path)


def test_conflicts_with_existing_accounts_are_refused(db, tmp_path):
    make_teacher(username="21Z201")  # a staff account listed as a student
    make_student(username="anand", courses=[])  # a student listed as a teacher
    before = state()
    with pytest.raises(CommandError) as err:
        run(GOOD, tmp_path)
    assert "line 2, column role: anand exists here as a non-staff account" in str(err.value)
    assert "line 4, column role: 21Z201 is staff here" in str(err.value)
    assert state() == before


def test_replace_removes_whoever_left_the_course_and_keeps_their_marks(db, tmp_path):
    run(GOOD, tmp_path)
    left = f"{HEAD}\n19XW51,Compilers,teacher,anand,Anand Rao,anand@college.edu\n"
    left += "19XW51,Compilers,student,21Z202,Bhavya S,bhavya@students.college.edu\n"
    out = run(left, tmp_path)
    assert "Nothing to change" in out  # without --replace a roster only adds
    out = run(left, tmp_path, "--replace")
    assert "1 teacher(s) and 1 student(s) removed" in out
    _, users, teachers, students, _ = state()
    assert teachers == [("19XW51", "anand"), ("19XW52", "meena")]  # 19XW52 untouched
    assert students == [("19XW51", "21Z202"), ("19XW52", "21Z201")]
    assert len(users) == 4  # nobody's account is deleted


def test_replace_keeps_the_teacher_who_created_a_courses_quiz_and_says_so(db, tmp_path):
    from tests.factories import make_quiz

    run(GOOD, tmp_path)
    make_quiz(course_id="19XW51", created_by="meena@college.edu", enrol_everyone=False)
    only_anand = f"{HEAD}\n19XW51,Compilers,teacher,anand,Anand Rao,anand@college.edu\n"
    out = run(only_anand, tmp_path, "--replace")
    assert (
        "kept as teacher(s) because they created the course's quizzes (their email goes with "
        "its marks): meena in 19XW51"
    ) in out
    teachers = sorted(Course.teachers.through.objects.values_list("course_id", "user__username"))
    assert ("19XW51", "meena") in teachers


def test_replace_never_leaves_a_course_without_a_teacher(db, tmp_path):
    run(GOOD, tmp_path)
    with pytest.raises(CommandError, match="needs at least one teacher row"):
        run(f"{HEAD}\n19XW51,,student,21Z201,Arun K,\n", tmp_path, "--replace")


def test_dry_run_writes_nothing(db, tmp_path):
    out = run(GOOD, tmp_path, "--dry-run")
    assert out.startswith("Dry run, nothing written: 2 course(s) created")
    assert not Course.objects.exists() and not User.objects.exists()


def test_password_links_are_printed_only_on_request_and_never_logged(db, tmp_path, caplog):
    out = run(GOOD, tmp_path, "--password-links", "https://quiz.college.edu")
    links = [line for line in out.splitlines() if "/accounts/reset/" in line]
    assert len(links) == 4
    assert links[0].startswith("  21Z201: https://quiz.college.edu/accounts/reset/")
    assert "/accounts/reset/" not in caplog.text
    # The link works once: it opens the set-password form.
    from django.test import Client

    path = links[0].split("https://quiz.college.edu", 1)[1]
    response = Client().get(path, follow=True)
    assert response.status_code == 200 and 'name="new_password1"' in response.content.decode()


def test_password_links_cover_accounts_an_earlier_admin_import_created(db, tmp_path):
    root = make_teacher(username="root", is_superuser=True)
    client = client_for(root)
    response = client.post(IMPORT_URL, {"text": GOOD, "apply": "1"}, follow=True)
    notes = [str(m) for m in response.context["messages"]]
    assert any("Make set-password links for students without a password" in m for m in notes)
    bhavya = User.objects.get(username="21Z202")
    bhavya.set_password("chosen-by-bhavya-1")
    bhavya.save()
    before = state()

    out = run(GOOD, tmp_path, "--password-links", "https://quiz.college.edu")

    links = [line.split(":")[0].strip() for line in out.splitlines() if "/accounts/reset/" in line]
    assert links == ["21Z201", "anand", "meena"]  # not 21Z202, who set a password
    assert "for the 3 account(s) without a password" in out
    assert state() == before  # nothing else changed
    User.objects.filter(username__in=links).update(password="pbkdf2_sha256$1$x$y")
    assert "no links to print" in run(GOOD, tmp_path, "--password-links", "https://q.example")


def test_a_roster_import_is_logged_with_its_counts(db, tmp_path, caplog):
    caplog.set_level("INFO", logger="quizzes.rosters")
    run(GOOD, tmp_path)
    assert "roster import rows=6 courses=19XW51,19XW52 users_created=4" in caplog.text


# --- speed: a constant number of queries per batch of 1,000 --------------------------------


def roster_of(n: int) -> str:
    lines = [HEAD, "19XW51,Compilers,teacher,anand,Anand Rao,anand@college.edu"]
    lines += [f"19XW51,Compilers,student,B{i:05d},Student {i},s{i}@x.edu" for i in range(n)]
    return "\n".join(lines) + "\n"


def _per_insert(rows: int, columns: int) -> int:
    """INSERTs for a batch: SQLite caps a statement at 999 parameters, so Django splits it."""
    if connection.vendor != "sqlite":
        return 1
    return -(-rows // (999 // columns))


def _batches(n: int) -> list[int]:
    return [min(1000, n - start) for start in range(0, n, 1000)]


def _queries_for(n: int) -> int:
    """Queries for a roster of one new teacher and n new students in one new course.

    Fixed (9): savepoint and release, the course read, the two membership reads, the course
    insert, the Teachers group read, its memberships and the teacher's enrolment insert.
    Per 1,000 people: one read, one read of who holds their emails (no student may take a
    staff member's), the user INSERT(s) (10 columns) and one re-read of their ids.
    Per 1,000 enrolments: the INSERT(s) (2 columns).
    """
    people = sum(3 + _per_insert(k, 10) for k in _batches(n + 1))
    enrolments = sum(_per_insert(k, 2) for k in _batches(n))
    return 9 + people + enrolments


@pytest.mark.parametrize("n", [1999, 5000])
def test_5000_students_import_with_a_constant_number_of_queries_per_batch(
    db, n, django_assert_num_queries
):
    rows = roster_parse(roster_of(n))
    started = time.perf_counter()
    with django_assert_num_queries(_queries_for(n)):
        result = roster_import(rows=rows)
    elapsed = time.perf_counter() - started
    assert result.students_enrolled == n and len(result.users_created) == n + 1
    assert Course.objects.get().students.count() == n
    print(f"roster import of {n} students: {elapsed:.2f} s")  # measured, not asserted
    # Again: reads only (and an INSERT OR IGNORE of the Teachers memberships), no change.
    with django_assert_num_queries(7 + 2 * len(_batches(n + 1))):
        again = roster_import(rows=rows)
    assert not again.changed


# --- admin import with a preview -----------------------------------------------------------


IMPORT_URL = "/admin/quizzes/course/import/"


def upload(client, text, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"file": SimpleUploadedFile("roster.csv", text.encode(), "text/csv"), **extra}
    return client.post(IMPORT_URL, data)


def test_admin_import_previews_then_applies_what_was_shown(db):
    root = make_teacher(username="root", is_superuser=True)
    client = client_for(root)
    page = upload(client, GOOD)
    assert page.status_code == 200
    assert page.context["preview"].summary().startswith("2 course(s) created")
    assert not Course.objects.exists()  # a preview writes nothing
    text = page.context["confirm"].initial["text"]
    response = client.post(IMPORT_URL, {"text": text, "apply": "Apply this roster"})
    assert response.status_code == 302
    assert Course.objects.count() == 2


def _roster_of_size(size: int) -> str:
    """A valid roster of exactly `size` bytes: the last student's name pads it."""
    text = f"{HEAD}\n19XW51,Compilers,teacher,anand,Anand Rao,anand@college.edu\n"
    row = "19XW51,Compilers,student,R{:07d},Student Number {:07d} Long Name Here,\n"
    i = 0
    while len(text) + 2 * len(row.format(i, i)) < size:
        text += row.format(i, i)
        i += 1
    prefix, suffix = "19XW51,Compilers,student,LAST,", ",\n"
    pad = size - len(text) - len(prefix) - len(suffix)
    assert 0 < pad <= 300
    return text + prefix + "x" * pad + suffix


def test_the_largest_roster_the_admin_previews_can_also_be_applied(db, settings):
    from quizzes.admin_courses import roster_max_bytes

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500_000  # the same edge as at 2.5 MB, faster
    cap = roster_max_bytes()
    assert cap == 400_000
    client = client_for(make_teacher(username="root", is_superuser=True))
    text = _roster_of_size(cap)
    assert len(text.encode()) == cap
    page = upload(client, text)
    assert page.status_code == 200 and b"roster-apply" in page.content
    assert 'enctype="multipart/form-data"' in page.content.decode().split('id="roster-apply"')[0]
    # The browser posts the hidden text back with CRLF line ends: still under the limit.
    sent = page.context["confirm"].initial["text"].replace("\n", "\r\n")
    response = client.post(IMPORT_URL, {"text": sent, "apply": "Apply this roster"})
    assert response.status_code == 302
    assert User.objects.filter(username="LAST").exists()


def test_a_roster_too_large_to_apply_is_refused_at_upload_pointing_to_the_command(db, settings):
    from quizzes.admin_courses import roster_max_bytes

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500_000
    client = client_for(make_teacher(username="root", is_superuser=True))
    text = _roster_of_size(roster_max_bytes() + 1)
    page = upload(client, text)
    assert page.status_code == 200
    assert "the admin import takes at most 400,000 bytes" in page.content.decode()
    assert "manage.py import_roster FILE" in page.content.decode()
    assert "roster-apply" not in page.content.decode()
    assert not Course.objects.exists()


def test_the_admin_roster_cap_follows_djangos_upload_limit(settings):
    from quizzes.admin_courses import ROSTER_MAX_BYTES, roster_max_bytes

    assert roster_max_bytes() == 2_097_152  # 80% of the default 2.5 MB
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    assert roster_max_bytes() == ROSTER_MAX_BYTES


def test_admin_import_shows_every_bad_row_and_writes_nothing(db):
    client = client_for(make_teacher(username="root", is_superuser=True))
    page = upload(client, f"{HEAD}\n19XW51,,ta,x1,X,\n")
    assert page.context["errors"] == ["line 2, column role: must be teacher or student (got 'ta')"]
    assert "line 2, column role" in page.content.decode()
    assert not User.objects.filter(username="x1").exists()


def test_a_teacher_imports_only_into_courses_they_teach_and_creates_no_teachers(db):
    anand = make_teacher(username="anand", email="anand@college.edu")
    make_course("19XW51", teachers=[anand])
    make_course("19XW52")
    client = client_for(anand)
    text = (
        f"{HEAD}\n19XW51,,student,21Z201,Arun K,\n19XW52,,student,21Z202,B,\n"
        "19XW51,,teacher,newbie,N,n@college.edu\n"
    )
    page = upload(client, text, apply="1")
    assert page.context["errors"] == [
        "line 3, column course_id: you do not teach course 19XW52",
        "line 4, column username: newbie has no account; only a superuser can create a "
        "teacher's account",
    ]
    assert not User.objects.filter(username__in=["21Z201", "newbie"]).exists()
    ok = f"{HEAD}\n19XW51,,student,21Z201,Arun K,\n"
    assert upload(client, ok, apply="1").status_code == 302
    assert list(Course.objects.get(pk="19XW51").students.values_list("username", flat=True)) == [
        "21Z201"
    ]


def test_a_teachers_import_cannot_make_an_existing_staff_account_a_teacher(db):
    from quizzes.roster_file import roster_read

    anand = make_teacher(username="anand", email="anand@college.edu")
    make_teacher(username="meena", email="meena@college.edu")  # in Teachers already
    make_course("19XW51", teachers=[anand])
    ops = User.objects.create_user(username="opsdesk", is_staff=True, email="ops@college.edu")
    text = (
        f"{HEAD}\n19XW51,,teacher,opsdesk,Ops Desk,ops@college.edu\n"
        "19XW51,,teacher,meena,Meena,meena@college.edu\n"
    )
    before = state()
    rows, errors = roster_read(text)
    with pytest.raises(RosterError) as err:
        roster_import(rows=rows, by=anand, parse_errors=errors)
    assert err.value.errors == [
        "line 2, column role: opsdesk is not in the Teachers group; only a superuser can make "
        "an existing account a teacher"
    ]
    assert state() == before
    assert not ops.groups.exists()
    # A co-teacher who is a teacher already is fine; a superuser may grant the group.
    rows, errors = roster_read(text.replace("opsdesk,Ops Desk,ops", "anand,A,anand"))
    roster_import(rows=rows, by=anand, parse_errors=errors)
    assert set(Course.objects.get().teachers.values_list("username", flat=True)) == {
        "anand",
        "meena",
    }
    rows, errors = roster_read(text)
    roster_import(rows=rows, by=make_teacher(username="root", is_superuser=True))
    assert ops.groups.filter(name="Teachers").exists()


def test_a_username_differing_only_in_case_is_refused_not_a_second_account(db, tmp_path):
    make_student(username="21Z201", courses=[])
    before = state()
    text = GOOD.replace("student,21Z201,Arun K,\n19XW51", "student,21z201,Arun K,\n19XW51")
    with pytest.raises(CommandError) as err:
        run(text, tmp_path)
    assert (
        "line 4, column username: 21z201 differs only in case from the existing account "
        "21Z201; write the username exactly as the account has it" in str(err.value)
    )
    # line 7 spells it 21Z201: two spellings in one file are one person, refused too.
    assert "line 7, column username: 21Z201 differs only in case from 21z201 on line 4" in str(
        err.value
    )
    assert state() == before
    assert User.objects.filter(username__iexact="21z201").count() == 1


def test_a_teacher_username_differing_only_in_case_is_refused_not_rewritten(db, tmp_path):
    make_teacher(username="Anand", email="anand@college.edu")
    before = state()
    with pytest.raises(CommandError) as err:
        run(GOOD, tmp_path)
    assert (
        "line 2, column username: anand differs only in case from the existing account Anand"
        in (str(err.value))
    )
    assert state() == before


def test_a_student_cannot_reach_the_import(db):
    client = client_for(make_student(courses=[]))
    assert client.get(IMPORT_URL).status_code == 302  # to the admin login


def test_the_demo_roster_agrees_with_the_fake_analyzers_demo_courses():
    from quizzes import demo_data
    from quizzes.management.commands.seed_demo import DEMO_ROSTER

    rows = roster_parse(DEMO_ROSTER.read_text(encoding="utf-8"))
    emails = {t["username"]: t["email"] for t in demo_data.TEACHERS}
    for course in demo_data.COURSES:
        mine = [r for r in rows if r.course_id == course["course_id"]]
        assert {r.course_name for r in mine} == {course["name"]}
        assert [emails[r.username] for r in mine if r.role == "teacher"] == [course["instructor"]]
        assert [r.username for r in mine if r.role == "student"] == course["students"]


def test_row_problems_and_conflicts_with_the_database_are_listed_together_in_file_order(
    db, tmp_path
):
    make_teacher(username="anand")
    text = f"{HEAD}\n19XW51,Compilers,ta,x,X,\n19XW52,OS,student,anand,A,\n19XW53,,student,s,S,\n"
    with pytest.raises(CommandError) as err:
        run(text, tmp_path)
    assert str(err.value).splitlines()[1:] == [
        "  line 2, column role: must be teacher or student (got 'ta')",
        "  line 3, column role: anand is staff here; a staff account cannot be enrolled as a "
        "student",
        "  line 3, column course_id: course 19XW52 needs at least one teacher row",
        "  line 4, column course_id: course 19XW53 needs at least one teacher row",
    ]


# --- Hostile files (issue 23): refused by the preview, never a 500 or a traceback ------------

LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".edu"  # 313 characters, valid form
HOSTILE_ROWS = {
    "an email longer than the column": (
        f"19XW51,,student,x1,X,{LONG_EMAIL}",
        "line 3, column email: at most 254 characters",
    ),
    "a NUL in a cell": (
        "19XW51,,student,x1,X\x00Y,",
        "line 3, column name: contains a control character (U+0000)",
    ),
    "a line break inside a quoted cell": (
        '19XW51,,student,x1,"X\nY",',
        "line 4, column name: contains a control character (U+000A)",
    ),
    "a first name longer than its column": (
        "19XW51,,student,x1," + "n" * 151 + ",",
        "line 3, column name: the first name (up to the first space) and the rest are each "
        "at most 150 characters",
    ),
    "a cell over csv's field limit": (
        "19XW51,,student,x1," + "n" * 140_000 + ",",
        "line 3: a cell is too long to read",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_ROWS))
def test_a_hostile_cell_is_refused_by_the_command_with_its_line_and_column(db, tmp_path, case):
    row, message = HOSTILE_ROWS[case]
    text = f"{HEAD}\n19XW51,Compilers,teacher,good,Good,good@college.edu\n{row}\n"
    before = state()
    with pytest.raises(CommandError) as err:
        run(text, tmp_path)
    assert message in str(err.value)
    assert state() == before


@pytest.mark.parametrize("case", list(HOSTILE_ROWS))
def test_a_hostile_cell_is_refused_by_the_admin_preview_not_a_500(db, case, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    row, message = HOSTILE_ROWS[case]
    client = client_for(make_teacher(username="root", is_superuser=True))
    text = f"{HEAD}\n19XW51,Compilers,teacher,good,Good,good@college.edu\n{row}\n"
    page = upload(client, text)
    assert page.status_code == 200
    assert any(message in error for error in page.context["errors"])
    assert "preview" not in page.context
    assert not Course.objects.exists()


def test_a_roster_at_every_column_limit_is_previewed_and_applied(db, tmp_path):
    """The limits are the database's: what the preview accepts, the apply writes."""
    email = "a" * 64 + "@" + ".".join(["b" * 61] * 3) + ".edu"
    assert len(email) == 254
    name = "f" * 150 + " " + "l" * 150
    text = (
        f"{HEAD}\n19XW51,{'C' * 200},teacher,{'t' * 150},{name},{email}\n"
        f"19XW51,,student,{'s' * 150},{name},\n"
    )
    run(text, tmp_path)
    teacher = User.objects.get(username="t" * 150)
    assert (teacher.first_name, teacher.last_name, teacher.email) == ("f" * 150, "l" * 150, email)
    assert Course.objects.get().name == "C" * 200


# --- Identities that cannot be squatted (issue 23, item 3) -------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "19XW51,,student,meena@college.edu,X,",
            "line 3, column username: 'meena@college.edu' is not a student username here",
        ),
        (
            "19XW51,,student,x1,X,good@college.edu",
            "line 3, column email: good@college.edu is the email of teacher good on line 2; a "
            "student cannot take it",
        ),
    ],
)
def test_a_student_cannot_take_an_email_in_the_file(db, tmp_path, row, message):
    text = f"{HEAD}\n19XW51,Compilers,teacher,good,Good,good@college.edu\n{row}\n"
    with pytest.raises(CommandError) as err:
        run(text, tmp_path)
    assert message in str(err.value)


def test_a_student_cannot_take_a_staff_members_email(db, tmp_path):
    make_teacher(username="priya", email="Priya@College.edu")
    make_course("19XW51", teachers=[make_teacher(username="good", email="good@college.edu")])
    text = f"{HEAD}\n19XW51,,student,x1,X,priya@college.edu\n"
    before = state()
    with pytest.raises(CommandError) as err:
        run(text, tmp_path)
    assert (
        "line 2, column email: priya@college.edu is the email of staff member priya; a "
        "student cannot take it"
    ) in str(err.value)
    assert state() == before


def test_a_new_teacher_cannot_get_an_email_a_student_holds(db, tmp_path):
    make_student(username="21Z999", email="meena@college.edu")
    text = f"{HEAD}\n19XW51,Compilers,teacher,meena,Meena,meena@college.edu\n"
    with pytest.raises(CommandError) as err:
        run(text, tmp_path)
    assert (
        "line 2, column email: meena@college.edu is held by the non-staff account 21Z999"
    ) in str(err.value)


def test_the_student_username_pattern_is_configurable(db, tmp_path, settings):
    settings.STUDENT_USERNAME_PATTERN = r"\d{2}[A-Z]\d{3}"
    text = f"{HEAD}\n19XW51,Compilers,teacher,good,Good,good@college.edu\n"
    with pytest.raises(CommandError) as err:
        run(text + "19XW51,,student,x1,X,\n", tmp_path)
    assert "line 3, column username: 'x1' is not a student username here" in str(err.value)
    run(text + "19XW51,,student,21Z201,X,\n", tmp_path)
    assert Course.objects.get().students.get().username == "21Z201"
