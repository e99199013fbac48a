"""Login throttling with django-axes: the site's login and admin's, per username and address."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client
from django.urls import reverse

from ops.devices import COOKIE_NAME
from tests.factories import make_student

RIGHT = "pw-student-123"
LOGIN = "/accounts/login/"


def login(client, username, password, *, ip="10.0.0.7", url=LOGIN):
    return client.post(
        url, {"username": username, "password": password}, REMOTE_ADDR=ip, secure=True
    )


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@college.edu", "pw-root-123456")


def test_fifty_wrong_passwords_then_the_right_one_is_still_locked(client, student):
    for _ in range(50):
        response = login(client, student.username, "wrong")
        assert response.status_code in (200, 429)
    response = login(client, student.username, RIGHT)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "5 wrong passwords" in page and "15 minutes" in page
    assert "<html" in page  # the site's page, not a bare 403/429 text
    # One lock row for the pair; its count stopped growing at the lock (no row per try).
    attempt = AccessAttempt.objects.get(username=student.username)
    assert attempt.ip_address == "10.0.0.7"


def test_the_lock_starts_at_the_fifth_failure(client, student):
    for _ in range(4):
        assert login(client, student.username, "wrong").status_code == 200
    assert login(client, student.username, "wrong").status_code == 429
    assert login(client, student.username, RIGHT).status_code == 429


def test_another_user_on_the_same_address_is_unaffected(client, student):
    other = make_student()
    for _ in range(10):
        login(client, student.username, "wrong")
    response = login(Client(), other.username, RIGHT)
    assert response.status_code == 302
    assert response.url == reverse("quizzes:home")


def test_a_guesser_is_locked_from_every_address_in_browsers_the_user_never_used(student):
    """Untrusted browsers share one count per username: new addresses give no new tries."""
    for i in range(5):
        login(Client(), student.username, "wrong", ip=f"10.0.{i}.7")
    other_client = Client()
    response = login(other_client, student.username, RIGHT, ip="10.9.9.9")
    assert response.status_code == 429
    assert not logged_in(other_client)
    assert "log in from a browser you have used for this account before" in (
        response.content.decode()
    )


def test_a_successful_login_resets_the_count(client, student):
    for _ in range(4):
        login(client, student.username, "wrong")
    assert login(client, student.username, RIGHT).status_code == 302
    client.post("/accounts/logout/", secure=True)
    for _ in range(4):
        login(client, student.username, "wrong")
    assert login(client, student.username, RIGHT).status_code == 302
    assert logged_in(client)


def test_admin_login_locks_too(client, superuser):
    url = "/admin/login/?next=/admin/"
    for _ in range(5):
        login(client, "root", "wrong", url=url)
    response = login(client, "root", "pw-root-123456", url=url)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)


def test_a_superuser_unlocks_in_admin(client, student, superuser):
    for _ in range(6):
        login(client, student.username, "wrong")
    attempt = AccessAttempt.objects.get(username=student.username)
    admin_client = Client()
    admin_client.force_login(superuser)
    changelist = admin_client.get("/admin/axes/accessattempt/", secure=True)
    assert changelist.status_code == 200
    assert student.username in changelist.content.decode()
    response = admin_client.post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}, secure=True
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert login(client, student.username, RIGHT).status_code == 302
    assert logged_in(client)


def test_teachers_cannot_see_or_unlock_login_records(client, teacher, student):
    for _ in range(6):
        login(client, student.username, "wrong")
    attempt = AccessAttempt.objects.get()
    # Even with the permissions granted by mistake, the records are for superusers only.
    from django.contrib.auth.models import Permission

    teacher.user_permissions.add(*Permission.objects.filter(content_type__app_label="axes"))
    teacher_client = Client()
    teacher_client.force_login(teacher)
    assert teacher_client.get("/admin/axes/accessattempt/", secure=True).status_code == 403
    response = teacher_client.post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}, secure=True
    )
    assert response.status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert "axes" not in teacher_client.get("/admin/", secure=True).content.decode().lower()


def test_the_password_is_never_stored_or_logged(client, student, caplog):
    for _ in range(6):
        login(client, student.username, "Sup3rSecret-guess")
    assert "Sup3rSecret-guess" not in caplog.text
    attempt = AccessAttempt.objects.get()
    assert "Sup3rSecret-guess" not in attempt.post_data


def test_behind_the_tls_proxy_the_address_is_the_one_the_proxy_appended(settings, rf):
    from ops.client_ip import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 10.1.2.3", REMOTE_ADDR="127.0.0.1")
    settings.SECURE_PROXY_SSL_HEADER = None
    assert client_ip(request) == "127.0.0.1"  # no proxy: the header is the client's to forge
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client_ip(request) == "10.1.2.3"  # not the first, forgeable, entry
    garbage = rf.get("/", HTTP_X_FORWARDED_FOR="not-an-ip", REMOTE_ADDR="127.0.0.1")
    assert client_ip(garbage) == "127.0.0.1"


# --- A classmate cannot lock a student out (issue 23, item 1) ---------------------------------


def _used_before(student, ip="10.0.0.7") -> Client:
    """The student's own browser: it has logged in as them once, then logged out."""
    browser = Client()
    assert login(browser, student.username, RIGHT, ip=ip).status_code == 302
    assert COOKIE_NAME in browser.cookies
    browser.post("/accounts/logout/", secure=True)
    return browser


def test_a_classmate_on_the_labs_address_cannot_lock_the_students_own_browser(student):
    own = _used_before(student)
    classmate = Client()
    for _ in range(5):
        login(classmate, student.username, "wrong")  # same lab address, 10.0.0.7
    assert login(classmate, student.username, RIGHT).status_code == 429
    assert login(own, student.username, RIGHT).status_code == 302
    assert logged_in(own)


def test_the_admin_login_of_a_trusted_browser_is_not_locked_either(superuser):
    own = Client()
    url = "/admin/login/?next=/admin/"
    assert login(own, "root", "pw-root-123456", url=url).status_code == 302
    own.post("/admin/logout/", secure=True)
    for _ in range(5):
        login(Client(), "root", "wrong", url=url)
    assert login(Client(), "root", "pw-root-123456", url=url).status_code == 429
    assert login(own, "root", "pw-root-123456", url=url).status_code == 302


def test_a_trusted_browser_still_locks_itself_after_five_wrong_passwords(student):
    own = _used_before(student)
    for _ in range(5):
        login(own, student.username, "wrong")
    response = login(own, student.username, RIGHT)
    assert response.status_code == 429
    assert "locked in this browser" in response.content.decode()
    # ... and only itself: the student's other devices and new browsers are unaffected.
    assert login(Client(), student.username, RIGHT).status_code == 302


def test_a_device_cookie_trusts_a_browser_only_for_the_users_it_logged_in_as(student):
    own = _used_before(student)
    other = make_student()
    for _ in range(5):
        login(Client(), other.username, "wrong")
    assert login(own, other.username, RIGHT).status_code == 429


def test_a_forged_or_copied_cookie_gives_no_new_tries(student):
    for _ in range(5):
        login(Client(), student.username, "wrong")
    forger = Client()
    forger.cookies[COOKIE_NAME] = signing.dumps({"id": "x", "users": [student.username]})
    assert login(forger, student.username, RIGHT).status_code == 429


def test_the_device_cookie_is_http_only_and_same_site(student):
    browser = Client()
    login(browser, student.username, RIGHT)
    cookie = browser.cookies[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_a_teacher_lifts_the_lockout_of_their_student_and_of_nobody_else(client, teacher):
    from tests.factories import make_course

    make_course("19XW99", teachers=[teacher])
    mine, stranger = make_student(courses=["19XW99"]), make_student(courses=[])
    for _ in range(5):
        login(Client(), mine.username, "wrong")
        login(Client(), stranger.username, "wrong")
    staff = Client()
    staff.force_login(teacher)
    page = staff.get("/admin/lockouts/", secure=True)
    assert page.status_code == 200
    assert [lock.username for lock in page.context["lockouts"]] == [mine.username]
    assert (
        staff.post("/admin/lockouts/", {"username": stranger.username}, secure=True).status_code
        == 403
    )
    assert (
        staff.post("/admin/lockouts/", {"username": mine.username}, secure=True).status_code == 302
    )
    assert login(Client(), mine.username, RIGHT).status_code == 302
    assert login(Client(), stranger.username, RIGHT).status_code == 429


def test_a_student_cannot_open_the_lockouts_page(student):
    browser = Client()
    browser.force_login(student)
    response = browser.get("/admin/lockouts/", secure=True)
    assert response.status_code == 302  # to admin's login: not staff


def test_the_lockout_key_needs_no_request():
    """axes may ask without a request (e.g. authenticate() from code): the username alone."""
    from ops.devices import lockout_key

    assert lockout_key(None, {"username": "21Z201"}) == "21Z201"
