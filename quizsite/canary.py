"""Test-only guard: fails any response that contains the configured canary secret."""

from django.conf import settings


class CanaryResponseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        canary = getattr(settings, "SECRET_CANARY", None)
        if canary and not response.streaming and canary.encode() in response.content:
            raise AssertionError(f"secret canary leaked into the response of {request.path}")
        return response
