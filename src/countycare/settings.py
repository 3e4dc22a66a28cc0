"""CountyCare settings: everything comes from the environment, with a working embedded default.

COUNTYCARE_DATA_DIR       where the SQLite file, the generated secret key and uploads live (default ./var)
COUNTYCARE_DATABASE_URL   e.g. postgresql://postgres@127.0.0.1:5432/countycare (default: SQLite in the data dir)
COUNTYCARE_PREPARED_STATEMENTS  "0" to turn off PostgreSQL's server-side parameters and prepared statements
                          (default on; off behind a connection pooler that cannot keep prepared statements)
COUNTYCARE_REFERENCE_CACHE_SECONDS  how long each process keeps policy numbers and ICD-10 names it read (default 30;
                          0: read them on every use). A change saved in admin applies at once in the process
                          that saved it, within this time in the others (countycare.core.refcache)
COUNTYCARE_SECRET_KEY     the Django secret key (default: generated once into the data dir)
COUNTYCARE_DEBUG          "1" for debug pages (default off)
COUNTYCARE_ALLOWED_HOSTS  comma-separated host names (default: localhost names)
COUNTYCARE_SECURE_COOKIES "1" behind HTTPS: secure session/CSRF cookies and HSTS
COUNTYCARE_ORTHANC_URL    the Orthanc server's REST API (default http://127.0.0.1:8042; `countycare orthanc` starts one)
COUNTYCARE_ORTHANC_USERNAME / COUNTYCARE_ORTHANC_PASSWORD  its credentials (default user "countycare" and a
                          password generated once into the data dir, which `countycare orthanc` configures)
COUNTYCARE_ORTHANC_PUBLIC_URL  the address readers' browsers open studies at (default: COUNTYCARE_ORTHANC_URL)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("COUNTYCARE_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    return _generated_secret("COUNTYCARE_SECRET_KEY", "secret_key", 50)


def _generated_secret(env_name: str, file_name: str, nbytes: int) -> str:
    """The environment's value, else a random one generated once into the data dir."""
    from_env = os.environ.get(env_name)
    if from_env:
        return from_env
    key_file = DATA_DIR / file_name
    if not key_file.exists():
        # Written owner-only from the first byte (write-then-chmod leaves it readable under the umask for a
        # moment), and linked into place whole: a process starting at the same time keeps the key that won.
        scratch = DATA_DIR / f".{file_name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(nbytes))
        try:
            os.link(scratch, key_file)
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("COUNTYCARE_DEBUG")
ALLOWED_HOSTS = env_list("COUNTYCARE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "ninja",  # serves Swagger UI's files locally: the hospital intranet has no CDN
    "countycare.core",
    "countycare.registry",
    "countycare.accounts",
    "countycare.records",
    "countycare.referrals",
    "countycare.diagnostics",
    "countycare.assessment",
    "countycare.workstation",
    "countycare.web",
    "countycare.synth",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "countycare.web.middleware.ChineseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "countycare.urls"
WSGI_APPLICATION = "countycare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "countycare.web.context.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("COUNTYCARE_DATABASE_URL") or f"sqlite:///{DATA_DIR / 'countycare.sqlite3'}",
        # Persistent connections: each server thread keeps its own for as long as it works. With a fixed age (it
        # was 60 s) every thread of a server started together reconnected within the same second, each new
        # PostgreSQL session cold and its prepared statements gone: once a minute the referral API's p95 rose
        # from ~15 to ~300 ms for three seconds (docs/api.md, "Speed"). Health checks: a kept connection is
        # checked before its first use in each request, so one that broke between requests — the database
        # restarted, an idle session was killed — is replaced instead of failing a clinician's request. On
        # PostgreSQL the check reads the socket's state, no round trip (core/pgbackend).
        conn_max_age=None,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the demo server read while a command writes; busy timeout instead of "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # the same backend with a health check that looks at the socket instead of sending SELECT 1 (core/pgbackend)
    DATABASES["default"]["ENGINE"] = "countycare.core.pgbackend"
    if env_bool("COUNTYCARE_PREPARED_STATEMENTS", True):
        # Parameters bound by the server and statements prepared after their 5th run on a connection: PostgreSQL
        # then skips parsing and planning the hot statements (about half its CPU per referral create and accept,
        # docs/api.md "Speed"). Off ("0") behind a pooler that cannot keep prepared statements (PgBouncer in
        # transaction mode before 1.21). Raw SQL must then type its parameters where PostgreSQL cannot infer them.
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
COUNTYCARE_REFERENCE_CACHE_SECONDS = float(os.environ.get("COUNTYCARE_REFERENCE_CACHE_SECONDS", "30"))

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): 5 failures for one user name from one address locks for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("COUNTYCARE_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SECURE_COOKIES = env_bool("COUNTYCARE_SECURE_COOKIES")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_AGE = 8 * 3600  # one clinical shift
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env_list("COUNTYCARE_CSRF_TRUSTED_ORIGINS", [])
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if SECURE_COOKIES:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

API_TOKEN_TTL_HOURS = int(os.environ.get("COUNTYCARE_API_TOKEN_TTL_HOURS", "12"))

# Orthanc, the DICOM server imaging acquisitions are sent to (diagnostics/imaging.py, docs/operations.md).
ORTHANC_URL = os.environ.get("COUNTYCARE_ORTHANC_URL", "http://127.0.0.1:8042").rstrip("/")
ORTHANC_PUBLIC_URL = os.environ.get("COUNTYCARE_ORTHANC_PUBLIC_URL", ORTHANC_URL).rstrip("/")
ORTHANC_USERNAME = os.environ.get("COUNTYCARE_ORTHANC_USERNAME", "countycare")
ORTHANC_PASSWORD_FILE = DATA_DIR / "orthanc_password"
ORTHANC_PASSWORD = _generated_secret("COUNTYCARE_ORTHANC_PASSWORD", ORTHANC_PASSWORD_FILE.name, 24)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("COUNTYCARE_LOG_LEVEL", "WARNING")},
}
