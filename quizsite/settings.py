"""Settings for the quiz site, read from the environment (12-factor) with django-environ.

Every variable is listed in README.md. Safe by default: a deployment that sets nothing runs with
debug off and refuses to start without DJANGO_SECRET_KEY. Development asks for local mode
explicitly with DJANGO_ENV=local (`make demo`, `make test` and the drill do), which turns debug
on and allows a well-known development key. No cache is needed for correctness: sync state
lives in the database.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# "production" (the default) or "local". Only local mode may run with debug or the dev key.
DJANGO_ENV = env.str("DJANGO_ENV", default="production").strip().lower()
if DJANGO_ENV not in ("production", "local"):
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'production' or 'local', not {DJANGO_ENV!r}.")
LOCAL_MODE = DJANGO_ENV == "local"

DEBUG = env.bool("DJANGO_DEBUG", default=LOCAL_MODE)
if DEBUG and not LOCAL_MODE:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG=1 is only allowed in local mode (DJANGO_ENV=local): debug pages show "
        "settings and data to anyone who can reach the site."
    )

DEV_SECRET_KEY = "django-insecure-dev-only-key-never-used-in-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not LOCAL_MODE:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required outside local mode: set it to a long random string "
            "(or DJANGO_ENV=local on a development machine)."
        )
    SECRET_KEY = DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "quizzes",
    "academic_integration",
    "ops",
    "axes",
    "csp",
]

MIDDLEWARE = [
    # /ops/health and /ops/metrics, answered first: see ops/middleware.py and README.
    "ops.middleware.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (django-csp; the policy is under Security).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Issues the device cookie after a login (ops/devices.py: the lockout's trusted browsers).
    "ops.devices.DeviceCookieMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "quizsite.urls"
WSGI_APPLICATION = "quizsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (site, resync, fake-analyzer seeding) share the demo database.
    # IMMEDIATE: a transaction takes the write lock when it begins and waits up to `timeout`
    # for it; a deferred one that reads first fails at once with "database is locked" when
    # two submissions upgrade their read locks at the same moment.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # libpq waits for a connection forever by default: a database host that drops packets
    # would hang every request and /ops/health with it. Fail after a few seconds instead.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DJANGO_DB_CONNECT_TIMEOUT", default=5)
    )

# Nothing needs a cache for correctness: the sync state (breaker, rejected configurations,
# courses) lives in the database (academic_integration.models.SyncState). A per-process
# memory cache is the default; CACHE_URL=redis://... is optional, and a cache being down
# stops nothing.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Asia/Kolkata")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "DJANGO_STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedStaticFilesStorage",
        )
    },
}
# Serve straight from the app folders as well, so pages look right without collectstatic.
WHITENOISE_USE_FINDERS = True
# Files served at the site root by whitenoise: /favicon.ico (browsers ask for it unprompted).
WHITENOISE_ROOT = BASE_DIR / "quizsite" / "public"

# --- Login throttling (django-axes) -------------------------------------------------------
# Every login (the site's and admin's) goes through axes first. Failures are counted per
# lockout key (ops/devices.py): a browser that has logged in as the user before (a signed
# device cookie) counts and locks only itself; every other browser shares one count per
# username, from any address. So a classmate on the lab's address cannot lock a student out
# of the browser they use, and a guesser gets AXES_FAILURE_LIMIT tries per cool-off in all.
# Attempts are kept in the database (shared by every worker and host); a teacher unlocks
# their students at /admin/lockouts/ (docs/decisions/0001-login-lockout-device-cookies.md).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("DJANGO_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("DJANGO_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_CALLABLE = "ops.devices.lockout_key"
# axes.W006 warns that a lock without the address can be dodged by rotating cookies or
# User-Agents. Not here: a browser without a valid signed device cookie for the user is
# counted per username, so a fresh cookie (or a forged one) lands in that one count.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "ops.views.login_locked_out"  # 429 with registration/locked_out.html
AXES_CLIENT_IP_CALLABLE = "ops.client_ip.client_ip"
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False

# --- Ops endpoints: /ops/metrics (Prometheus) and /ops/health (load balancer) ---------------
# /ops/metrics needs `Authorization: Bearer $METRICS_TOKEN` and is a 404 while it is unset.
# /ops/health answers these networks directly (not through a proxy), or the same token.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
OPS_HEALTH_ALLOWED_NETWORKS = env.list(
    "OPS_HEALTH_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
)

# --- Email and the password pages -------------------------------------------------------
# Password reset and change pages are published only when email is configured
# (EMAIL_URL, e.g. smtp+tls://user:password@mail.college.edu:587); reset mails are then
# throttled per address and per client. Without it, staff change passwords in admin.
EMAIL_URL = env.str("EMAIL_URL", default="")
EMAIL_CONFIGURED = bool(EMAIL_URL)
if EMAIL_CONFIGURED:
    vars().update(env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="webmaster@localhost")
PASSWORD_RESET_PER_EMAIL_PER_HOUR = env.int("PASSWORD_RESET_PER_EMAIL_PER_HOUR", default=3)
PASSWORD_RESET_PER_CLIENT_PER_HOUR = env.int("PASSWORD_RESET_PER_CLIENT_PER_HOUR", default=10)

# What a student's username may look like in a roster, as a full-match regular expression:
# set it to the college's roll-number format (e.g. \d{2}[A-Z]\d{3} for 21Z201). The default
# takes letters, digits, dots, hyphens and underscores, never an "@": a student's username
# can never be an email a teacher is later known by (quizzes/roster_file.py).
STUDENT_USERNAME_PATTERN = env.str(
    "STUDENT_USERNAME_PATTERN", default=r"[A-Za-z0-9][A-Za-z0-9._-]*"
)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "quizzes:home"
LOGOUT_REDIRECT_URL = "login"

# --- Security -----------------------------------------------------------------------------
# Safe by default when debug is off; DJANGO_INSECURE_HTTP=1 turns HTTPS-only settings off for
# a plain-HTTP benchmark behind no proxy (check --deploy then warns, as it should).
_https = not DEBUG and not env.bool("DJANGO_INSECURE_HTTP", default=False)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=_https)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Content-Security-Policy (django-csp): everything from this site only, and no inline script
# or style anywhere (the site's pages and Django's admin use files only; a test and a browser
# test hold them to it), so an injected <script> or style attribute does not run. No CDN.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Academic Analyzer sync ---------------------------------------------------------------
# Read lazily by academic_integration at first use, never at import time.
ACADEMIC_ANALYZER_URL = env.str("ACADEMIC_ANALYZER_URL", default="") or None
ACADEMIC_ANALYZER_TOKEN = env.str("ACADEMIC_ANALYZER_TOKEN", default="") or None
ACADEMIC_ANALYZER_CONNECT_TIMEOUT = env.float("ACADEMIC_ANALYZER_CONNECT_TIMEOUT", default=2.0)
ACADEMIC_ANALYZER_READ_TIMEOUT = env.float("ACADEMIC_ANALYZER_READ_TIMEOUT", default=5.0)
# The whole request, however slowly the answer arrives; unset: connect + read timeouts.
ACADEMIC_ANALYZER_TOTAL_TIMEOUT = env.float("ACADEMIC_ANALYZER_TOTAL_TIMEOUT", default=None)
# The most of an Analyzer answer that is read (its answers are a few hundred bytes).
ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES = env.int(
    "ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES", default=1024 * 1024
)
ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN = (
    env.str("ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN", default="") or None
)
# Inline circuit breaker: this many consecutive temporary failures open it for this long.
ACADEMIC_ANALYZER_BREAKER_FAIL_MAX = env.int("ACADEMIC_ANALYZER_BREAKER_FAIL_MAX", default=3)
ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS = env.int(
    "ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS", default=30
)
# Inline budget: how long a submit waits for the Analyzer. The recent answers' p95 times the
# factor, within floor and cap (ms); the cap before any answer is seen. A background probe's
# answer time counts for every process for the memory period (see academic_integration.sync_state).
ACADEMIC_ANALYZER_INLINE_BUDGET_FLOOR_MS = env.int(
    "ACADEMIC_ANALYZER_INLINE_BUDGET_FLOOR_MS", default=250
)
ACADEMIC_ANALYZER_INLINE_BUDGET_CAP_MS = env.int(
    "ACADEMIC_ANALYZER_INLINE_BUDGET_CAP_MS", default=1000
)
ACADEMIC_ANALYZER_INLINE_BUDGET_FACTOR = env.float(
    "ACADEMIC_ANALYZER_INLINE_BUDGET_FACTOR", default=2.0
)
ACADEMIC_ANALYZER_INLINE_BUDGET_SAMPLES = env.int(
    "ACADEMIC_ANALYZER_INLINE_BUDGET_SAMPLES", default=20
)
ACADEMIC_ANALYZER_INLINE_BUDGET_MEMORY_SECONDS = env.int(
    "ACADEMIC_ANALYZER_INLINE_BUDGET_MEMORY_SECONDS", default=600
)
ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS = env.int(
    "ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS", default=300
)
# Resync retry policy: exponential backoff with jitter, capped by tries and age.
ACADEMIC_ANALYZER_RETRY_BASE_SECONDS = env.int("ACADEMIC_ANALYZER_RETRY_BASE_SECONDS", default=60)
ACADEMIC_ANALYZER_RETRY_MAX_DELAY_SECONDS = env.int(
    "ACADEMIC_ANALYZER_RETRY_MAX_DELAY_SECONDS", default=3600
)
ACADEMIC_ANALYZER_MAX_TRIES = env.int("ACADEMIC_ANALYZER_MAX_TRIES", default=12)
ACADEMIC_ANALYZER_MAX_AGE_HOURS = env.int("ACADEMIC_ANALYZER_MAX_AGE_HOURS", default=72)
ACADEMIC_ANALYZER_CLAIM_SECONDS = env.int("ACADEMIC_ANALYZER_CLAIM_SECONDS", default=300)
# How long a timed-out request may still be applied by the Analyzer (see tries.plan_outcome).
ACADEMIC_ANALYZER_LATE_WRITE_SECONDS = env.int("ACADEMIC_ANALYZER_LATE_WRITE_SECONDS", default=60)
# Resync: marks of one course and tutorial per add-tutN-mark request (0: one POST per mark),
# and how long a deployment found without that route is sent one POST per mark before the
# bulk route is tried again.
ACADEMIC_ANALYZER_BULK_SIZE = env.int("ACADEMIC_ANALYZER_BULK_SIZE", default=200)
# Each item of a bulk request adds this to its read timeout and deadline: upstream stores the
# items one after another (~35-80 a second measured), so 200 items need seconds, not the 5 s
# read timeout of one mark.
ACADEMIC_ANALYZER_BULK_SECONDS_PER_ITEM = env.float(
    "ACADEMIC_ANALYZER_BULK_SECONDS_PER_ITEM", default=0.05
)
ACADEMIC_ANALYZER_BULK_RETRY_SECONDS = env.int(
    "ACADEMIC_ANALYZER_BULK_RETRY_SECONDS", default=24 * 3600
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "urllib3": {"level": "WARNING"},
    },
}
