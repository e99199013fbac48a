"""Types for views: a request whose user is logged in (behind `login_required` or the admin)."""

from django.contrib.auth.models import User
from django.http import HttpRequest


class LoggedInRequest(HttpRequest):
    """A request to a view that only logged-in users reach: its ``user`` is a `User`.

    For annotations only; Django builds the request as usual."""

    user: User
