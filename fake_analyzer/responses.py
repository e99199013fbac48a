"""What the fake answers with: canned pages, JSON helpers and the control error."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

LEGACY_DELETED_COURSE_TRACE = (
    "TypeError: Cannot read properties of null (reading 'enrolledStudents')\n"
    "    at updateStudentMarks (/app/controllers/staff.js:212:31)\n"
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
)
LEGACY_FORBIDDEN_PAGE = (
    "<html>\n<head><title>403 Forbidden</title></head>\n<body>\n"
    "<center><h1>403 Forbidden</h1></center>\n</body>\n</html>\n"
)
LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head><title>Sign in - College SSO</title></head>\n<body>\n"
    '<form method="post" action="/sso/login">\n<input name="username">\n'
    '<input name="password" type="password">\n<button>Sign in</button>\n</form>\n'
    "</body>\n</html>\n"
)
PROXY_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
    504: "504 Gateway Time-out",
}


class ControlError(Exception):
    """A control request that cannot be honoured; answered with `status` and `message`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        self.message = message


# --- responses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    # Compact, as Express's res.json() (JSON.stringify) writes it.
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), JSON_TYPE, headers)


def html_response(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, text.encode(), HTML_TYPE, headers)


def express_404(method: str, path: str) -> Response:
    """Express's finalhandler page for a route that does not exist."""
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Error</title>\n</head>\n<body>\n"
        f"<pre>Cannot {_escape(method)} {_escape(path)}</pre>\n</body>\n</html>\n"
    )
    return html_response(
        404,
        page,
        (("Content-Security-Policy", "default-src 'none'"), ("X-Content-Type-Options", "nosniff")),
    )


def express_error(status: int, stack: str) -> Response:
    """Express's default error page (development mode): the error's stack in a <pre>."""
    text = _escape(stack.rstrip("\n")).replace("\n", "<br>").replace("  ", " &nbsp;")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Error</title>\n</head>\n<body>\n<pre>{text}</pre>\n</body>\n</html>\n"
    )
    return html_response(
        status,
        page,
        (("Content-Security-Policy", "default-src 'none'"), ("X-Content-Type-Options", "nosniff")),
    )


def body_undefined_error(first_key: str, handler: str) -> Response:
    """An upstream handler destructuring `req.body` when no JSON body came: a 500 page."""
    return express_error(
        500,
        f"TypeError: Cannot destructure property '{first_key}' of 'req.body' as it is "
        f"undefined.\n    at {handler} (/app/controllers/staffController.js)\n",
    )


def body_syntax_error() -> Response:
    """express.json()'s answer to a body that is not a JSON object or array: a 400 page."""
    return express_error(
        400,
        "SyntaxError: Unexpected token in JSON body\n"
        "    at JSON.parse (<anonymous>)\n"
        "    at parse (/app/node_modules/body-parser/lib/types/json.js:77:19)\n",
    )


def _escape(text: str) -> str:
    """Express's escape-html: &, <, >, " and ' (as &#39;)."""
    return html.escape(text, quote=False).replace('"', "&quot;").replace("'", "&#39;")


def failure(status: int, message: str) -> Response:
    return json_response(status, {"success": False, "message": message})
