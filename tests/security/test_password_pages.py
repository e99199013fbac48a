"""Password pages: absent without email; with email, reset mails are throttled."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import make_student
from tests.quizsite.test_deploy_check import run

WITH_EMAIL = pytest.mark.urls("tests.security.urls_with_email")

PASSWORD_PAGES = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/password_change/",
    "/accounts/password_change/done/",
]


@pytest.mark.parametrize("url", PASSWORD_PAGES)
def test_without_email_the_password_pages_do_not_exist(student_client, url):
    assert student_client.get(url).status_code == 404
    assert student_client.post(url, {"email": "x@college.edu"}).status_code == 404
    assert not mail.outbox


def test_without_email_a_roster_set_password_link_still_works(client, db):
    """import_roster --password-links prints one-time links; they need no mail."""
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    student = make_student()
    student.set_unusable_password()
    student.save()
    uid = urlsafe_base64_encode(force_bytes(student.pk))
    token = default_token_generator.make_token(student)
    form = client.get(f"/accounts/reset/{uid}/{token}/", follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    new = {"new_password1": "a-long-first-password-42", "new_password2": "a-long-first-password-42"}
    done = client.post(form.redirect_chain[-1][0], new, follow=True)
    assert done.status_code == 200
    student.refresh_from_db()
    assert student.check_password("a-long-first-password-42")
    # One time only: the same link is dead once used.
    again = client.get(f"/accounts/reset/{uid}/{token}/", follow=True)
    assert not again.context["validlink"]
    assert not mail.outbox


def test_without_email_the_login_page_offers_no_reset(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert "Forgot your password" not in page


def test_without_email_staff_still_change_their_password_in_admin(admin_client):
    assert admin_client.get("/admin/password_change/").status_code == 200


def test_email_url_turns_the_pages_on(tmp_path):
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        "from django.urls import reverse; "
        "print(settings.EMAIL_CONFIGURED, settings.EMAIL_HOST, reverse('password_reset'))"
    )
    result = run(
        ["-c", probe],
        tmp_path=tmp_path,
        DJANGO_SETTINGS_MODULE="quizsite.settings",
        DJANGO_ENV="local",
        EMAIL_URL="smtp+tls://quiz:pw@mail.college.edu:587",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "mail.college.edu", "/accounts/password_reset/"]


def reset(client, email, ip="10.0.0.7"):
    return client.post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=ip)


@WITH_EMAIL
def test_with_email_a_reset_mail_is_sent_and_its_link_works(client, db):
    make_student(email="s1@college.edu")
    assert "Forgot your password" in client.get("/accounts/login/").content.decode()
    response = reset(client, "s1@college.edu")
    assert response.status_code == 302
    assert response.url == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    set_password = client.get(link, follow=True)
    assert set_password.status_code == 200
    assert "new_password1" in set_password.content.decode()


@WITH_EMAIL
def test_reset_mails_per_address_are_capped_silently(client, db, settings):
    make_student(email="s1@college.edu")
    limit = settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR
    for i in range(limit + 7):
        response = reset(Client(), "S1@college.edu", ip=f"10.0.1.{i}")  # any address, any case
        assert response.status_code == 302  # the same page: the limit says nothing
        assert response.url == "/accounts/password_reset/done/"
    assert len(mail.outbox) == limit


@WITH_EMAIL
def test_reset_requests_per_client_are_refused_with_a_page(client, db, settings):
    limit = settings.PASSWORD_RESET_PER_CLIENT_PER_HOUR
    for i in range(limit):
        make_student(email=f"s{i}@college.edu")
        assert reset(client, f"s{i}@college.edu").status_code == 302
    make_student(email="late@college.edu")
    response = reset(client, "late@college.edu")
    assert response.status_code == 429
    assert "Too many reset requests" in response.content.decode()
    assert len(mail.outbox) == limit
    # Another client is not affected.
    assert reset(Client(), "late@college.edu", ip="10.0.9.9").status_code == 302
    assert len(mail.outbox) == limit + 1
