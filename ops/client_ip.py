"""The client's address for login throttling."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind our TLS proxy the address that proxy appended last.

    Only the last X-Forwarded-For entry is trusted: the client can write the earlier ones.
    None when there is no address (a test client's forced login), as axes itself does.
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = _valid(forwarded.rsplit(",", 1)[-1])
        if last:
            return last
    return _valid(request.META.get("REMOTE_ADDR") or "")
