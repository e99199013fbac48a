"""The suite's guard (added by tests/conftest.py): fails any response that contains the
configured canary secret."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class CanaryResponseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        canary = getattr(settings, "SECRET_CANARY", None)
        if canary and not response.streaming and canary.encode() in response.content:
            raise AssertionError(f"secret canary leaked into the response of {request.path}")
        return response
