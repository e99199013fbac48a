"""Local mode for the test suite: pytest loads Django settings before any conftest runs.

It sets DJANGO_ENV=local for this process and the processes it starts, then reads the one
settings module. Never point a deployment at this module.
"""

import os

os.environ["DJANGO_ENV"] = "local"

from quizsite.settings import *  # noqa: F403
