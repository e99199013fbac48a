"""The client's address for login throttling."""

from django.conf import settings


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind our TLS proxy the address that proxy appended last.

    Only the last X-Forwarded-For entry is trusted: the client can write the earlier ones.
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "") or "unknown"
