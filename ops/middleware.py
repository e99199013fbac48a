"""The metrics and health endpoints, answered before the rest of the middleware.

First in MIDDLEWARE, so a load balancer's or Prometheus' plain-HTTP request to an internal
address gets its answer: no HTTPS redirect, no ALLOWED_HOSTS check (the token or the
address is the check), no session or login machinery, and no database query for health
beyond `SELECT 1`.

Neither endpoint is public:
- /ops/metrics needs `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time);
  without METRICS_TOKEN set it does not exist (404); a wrong or missing token is a 401.
- /ops/health answers the networks in OPS_HEALTH_ALLOWED_NETWORKS (loopback by default)
  when the request did not come through a proxy (no X-Forwarded-For), or the same bearer
  token; anyone else gets a 404.
"""

import hmac
import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from ops.metrics import CONTENT_TYPE, metrics_text

logger = logging.getLogger(__name__)

HEALTH_PATH = "/ops/health"
METRICS_PATH = "/ops/metrics"


class OpsEndpointsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == METRICS_PATH:
            return metrics_view(request)
        if request.path == HEALTH_PATH:
            return health_view(request)
        return self.get_response(request)


def _token() -> str:
    return getattr(settings, "METRICS_TOKEN", "") or ""


def _bearer_ok(request: HttpRequest) -> bool:
    token = _token()
    if not token:
        return False
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _from_allowed_network(request: HttpRequest) -> bool:
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False  # came through a proxy: REMOTE_ADDR is the proxy, not the caller
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for network in getattr(settings, "OPS_HEALTH_ALLOWED_NETWORKS", ()):
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def _not_found() -> HttpResponse:
    return HttpResponse("Not found\n", status=404, content_type="text/plain")


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _token():
        return _not_found()
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if not _bearer_ok(request):
        return HttpResponse(
            "Unauthorized\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    try:
        body = metrics_text()
    except Exception:
        logger.exception("metrics: could not read the database")
        return HttpResponse("metrics unavailable\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE)


def health_view(request: HttpRequest) -> HttpResponse:
    if not (_from_allowed_network(request) or _bearer_ok(request)):
        return _not_found()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as err:
        logger.warning("health: database unreachable: %s", type(err).__name__)
        return HttpResponse(
            "database unreachable\n",
            status=503,
            content_type="text/plain",
            headers={"Cache-Control": "no-store"},
        )
    return HttpResponse("ok\n", content_type="text/plain", headers={"Cache-Control": "no-store"})
