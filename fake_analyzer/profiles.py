"""Named profiles: which deployment of the Analyzer the fake acts out.

The default, `upstream`, is upstream's own code (Manikandan-K-S/Classroom_Connect,
`academic-analyzer/`, commit e0d3100) with nothing in front of it. The others are how
deployments in the field differ from it (see docs in the README, "The Analyzer we talk to").
A token is checked only by a profile with a token front, and only while a token is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from .responses import ControlError

DEFAULT_PROFILE = "upstream"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    #: How a token front answers a wrong or missing token: None (no front: the header is
    #: ignored), "json401" (newer fronts) or "html403" (older fronts, a bare page).
    front: str | None = None
    #: Whether POST /staff/add-tut1-mark … add-tut4-mark exist (upstream's bulk routes).
    bulk_routes: bool = True
    #: Whether GET /staff/verify-email exists (not upstream: some customised builds add it).
    verify_email: bool = False
    #: Older builds answer update-student-marks for an archived course with a 500 stack trace.
    deleted_course_trace: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "front": self.front,
            "bulk_routes": self.bulk_routes,
            "verify_email": self.verify_email,
            "deleted_course_trace": self.deleted_course_trace,
        }


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("upstream", "upstream's code as published: no token checked"),
        Profile(
            "token",
            "upstream behind a newer token front: a wrong or missing Bearer token is "
            '401 {"success": false, "code": "invalid_token", ...}',
            front="json401",
        ),
        Profile(
            "legacy",
            "an older deployment: 403 bare HTML for a wrong token, update-student-marks for an "
            "archived course is a 500 HTML stack trace, no add-tutN-mark routes",
            front="html403",
            bulk_routes=False,
            deleted_course_trace=True,
        ),
        Profile(
            "no-bulk",
            "an older build without the add-tutN-mark routes; otherwise upstream",
            bulk_routes=False,
        ),
        Profile(
            "custom",
            "a customised build: GET /staff/verify-email added, behind a newer token front",
            front="json401",
            verify_email=True,
        ),
    )
}
ALIASES = {"legacy-front": "legacy"}
PROFILE_NAMES = (*PROFILES, *ALIASES)


def get_profile(name: object) -> Profile:
    """The profile called `name` (or an alias of it); ControlError for an unknown one."""
    if isinstance(name, str):
        profile = PROFILES.get(ALIASES.get(name, name))
        if profile is not None:
            return profile
    raise ControlError(f"unknown profile {name!r}; expected one of {list(PROFILE_NAMES)}")


def profile_for_flags(*, token: str | None, legacy: bool) -> Profile:
    """The profile the old flags meant: --legacy → legacy, --token alone → token."""
    if legacy:
        return PROFILES["legacy"]
    return PROFILES["token" if token else DEFAULT_PROFILE]
