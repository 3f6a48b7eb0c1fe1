"""All settings, in one module, driven by environment variables (DESIGN.md section 7.1).

Unset variables give the embedded default: SQLite, Kombu's filesystem broker, local media,
console e-mail. Production sets DATABASE_URL, REDIS_URL, MEDIA_STORAGE=s3, EMAIL_URL,
DJANGO_SECRET_KEY and DJANGO_HTTPS=true; nothing exists only in production.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
import dj_email_url

from config.env import env_bool, env_int, env_list, env_optional, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("TRACKER_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
# The default key is only for the embedded run; `check --deploy` flags it (security.W009).
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", "django-insecure-embedded-default-not-for-production")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_standardized_errors",
    "axes",
    "tracker",
    "notifications",
    "api",
    "dashboard",
]

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    # Off unless LOAD_SHED_MAX_IN_FLIGHT > 0 (benchmarks/load/run_load.py turns it on).
    "api.middleware.LoadSheddingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lock-out into a response for form logins.
    "axes.middleware.AxesMiddleware",
]

# Load shedding (api.middleware.LoadSheddingMiddleware): at most this many requests in flight
# per process; a further one waits LOAD_SHED_WAIT_MS for a slot (with at most
# LOAD_SHED_MAX_WAITING others, default: as many as in flight), else 503 + Retry-After.
LOAD_SHED_MAX_IN_FLIGHT = env_int("LOAD_SHED_MAX_IN_FLIGHT", 0)
LOAD_SHED_MAX_WAITING = env_int("LOAD_SHED_MAX_WAITING", 0)
LOAD_SHED_WAIT_MS = env_int("LOAD_SHED_WAIT_MS", 200)
LOAD_SHED_RETRY_AFTER = env_int("LOAD_SHED_RETRY_AFTER", 1)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "tracker.User"
LOGIN_URL = "/dashboard/login/"
LOGIN_REDIRECT_URL = "/dashboard/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in the embedded run: WAL lets readers
    # proceed during a write, IMMEDIATE avoids "database is locked" on lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    # A request never waits on a lock or a slow query for longer than the client would.
    DATABASES["default"]["OPTIONS"].setdefault(
        "options", f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 15000)}"
    )
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 3)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery -------------------------------------------------------------------
REDIS_URL = env_optional("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_optional("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
# Countdowns and retry back-off never exceed 15 minutes, well inside this timeout, so Redis
# never redelivers a delayed task to a second worker (DESIGN.md section 9).
CELERY_VISIBILITY_TIMEOUT = 2 * 3600
CELERY_MAX_COUNTDOWN = 15 * 60
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    # A write request publishes on commit: with the broker down it must fail fast, not hang;
    # the beat sweeps pick the work up later from the database.
    "max_retries": 0,
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        {
            "data_folder_in": str(BROKER_DIR / "queue"),
            "data_folder_out": str(BROKER_DIR / "queue"),
            "processed_folder": str(BROKER_DIR / "processed"),
            "store_processed": False,
        }
    )
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport, fixed so that a broker outage cannot make the worker exit.
    CELERY_BROKER_TRANSPORT = "notifications.broker:Transport"
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"notifications.*": {"queue": "alerts"}}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "evaluation-sweep": {
        "task": "notifications.evaluation.evaluation_sweep_task",
        "schedule": 300.0,
    },
    # Evaluations whose task was lost (broker outage, emptied queue, killed worker): a
    # cheap query every minute, so that an alert waits a minute for them, not five.
    "evaluation-catch-up": {
        "task": "notifications.evaluation.evaluation_catch_up_task",
        "schedule": 60.0,
    },
    "photo-sweep": {"task": "tracker.tasks.photos_sweep_task", "schedule": 300.0},
    "orphan-files-sweep": {"task": "tracker.tasks.orphan_files_sweep_task", "schedule": 3600.0},
    "idempotency-purge": {"task": "api.tasks.idempotency_purge_task", "schedule": 3600.0},
    "sign-in-failures-purge": {
        "task": "api.tasks.sign_in_failures_purge_task",
        "schedule": 3600.0,
    },
    "deliveries-sweep": {"task": "notifications.tasks.deliveries_sweep_task", "schedule": 60.0},
    "escalation-sweep": {"task": "notifications.tasks.escalation_sweep_task", "schedule": 60.0},
    "reminders-sweep": {"task": "notifications.tasks.reminders_sweep_task", "schedule": 300.0},
    "daily-digest": {"task": "notifications.tasks.digest_sweep_task", "schedule": 900.0},
}

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_STORAGE = env_str("MEDIA_STORAGE", "local")
PHOTO_URL_EXPIRY_SECONDS = 300
if MEDIA_STORAGE == "s3":
    _photo_storage: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_secret("AWS_STORAGE_BUCKET_NAME", "tracker-photos"),
            "endpoint_url": env_optional("AWS_S3_ENDPOINT_URL"),
            "region_name": env_optional("AWS_S3_REGION_NAME"),
            "access_key": env_optional("AWS_ACCESS_KEY_ID"),
            "secret_key": env_optional("AWS_SECRET_ACCESS_KEY"),
            "default_acl": "private",
            # Opposite of a public-media default: every link is signed and expires.
            "querystring_auth": True,
            "querystring_expire": PHOTO_URL_EXPIRY_SECONDS,
            "file_overwrite": False,
            "location": "photos",
            "signature_version": "s3v4",
        },
    }
elif MEDIA_STORAGE == "local":
    # Not under any URL: photos are served only through the permission-checked views.
    _photo_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT / "photos"), "base_url": None},
    }
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("MEDIA_STORAGE must be 'local' or 's3'")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT / "private")},
    },
    "photos": _photo_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
PHOTO_MAX_UPLOAD_BYTES = 15 * 1024 * 1024

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_URL = env_optional("EMAIL_URL")
if EMAIL_URL:
    vars().update(dj_email_url.parse(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "care-team@tracker.invalid")

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First, as django-axes asks: refuses a locked-out account even with the right password.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "api.auth.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # api.lockout counts these rows in its window
AXES_HANDLER = "api.lockout.WindowedLockoutHandler"
LOCKOUT_WINDOW = timedelta(minutes=15)  # AXES_FAILURE_LIMIT failures within it lock the account
AXES_VERBOSE = False
ACTIVATION_CODE_TTL = timedelta(days=14)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=10),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=14),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_secret("JWT_SIGNING_KEY", SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "public_id",
    "USER_ID_CLAIM": "sub",
    "LEEWAY": 0,
}

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.UserJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.StrictJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("THROTTLE_AUTH", "30/min"),
        "activate": env_str("THROTTLE_ACTIVATE", "10/hour"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_FORMATTER_CLASS": "api.errors.ProblemFormatter",
    "EXCEPTION_HANDLER_CLASS": "api.errors.ProblemHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lenalidomide CLE follow-up API",
    "DESCRIPTION": "Dose logs, check-ins, photos, labs, CLASI and alerts for patients with "
    "cutaneous lupus on low-dose lenalidomide. Errors are RFC 9457 problem+json.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",  # noqa: E501
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        # Several resources have a "status" field: name each choice set after its resource.
        "PatientStatusEnum": "tracker.models.patients.Patient.Status",
        "DoseStatusEnum": "tracker.models.clinical.DoseLog.Status",
        "PhotoStatusEnum": "tracker.models.photos.LesionPhoto.Status",
        "AlertStatusEnum": "notifications.models.Alert.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "api.schema.problem_details_hook",
    ],
}

# --- Security (DJANGO_HTTPS=true behind TLS in production) -----------------------------------
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^ready/$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: request ids and codes, never patient values -----------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "api.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Clinical defaults ----------------------------------------------------------------------
# Reference limits the laboratory reports against (CTCAE v5 grades counts relative to the
# lower limit of normal, creatinine to the upper). LAB_LLN_ANC=1.8 etc. override one value.
LAB_LOWER_LIMITS = {
    test: Decimal(env_str(f"LAB_LLN_{test.upper()}", default))
    for test, default in {
        "anc": "2.0",
        "platelets": "150",
        "wbc": "4.0",
        "hemoglobin": "12.0",
    }.items()
}
LAB_UPPER_LIMITS = {"creatinine": Decimal(env_str("LAB_ULN_CREATININE", "1.2"))}
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "lupus-demo-2026")

# Lock-out is per account on purpose (the rule); per-address limits come from the
# DRF "auth" throttle scope, which is why axes' ip_address advice is silenced.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# --- Notifications (issue 6; docs/notifications.md) ------------------------------------------
# Links in notifications point at the dashboard: /dashboard/alerts/<id>/ under this base.
NOTIFY_DASHBOARD_BASE_URL = env_str("NOTIFY_DASHBOARD_BASE_URL", "http://localhost:8000")
NOTIFY_HTTP_TIMEOUT = env_int("NOTIFY_HTTP_TIMEOUT", 10)
# Six attempts with back-off 30 s, 1, 2, 4, 8 min (capped by CELERY_MAX_COUNTDOWN): a dead
# channel gives up, and so escalates, about a quarter of an hour after the alert.
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 6)
NOTIFY_RETRY_BASE_SECONDS = env_int("NOTIFY_RETRY_BASE_SECONDS", 30)
# A "sending" row older than the task hard time limit has lost its worker: safe to retry.
NOTIFY_STUCK_SENDING_SECONDS = CELERY_TASK_TIME_LIMIT + 60
NOTIFY_PUSH_BACKEND = env_str(
    "NOTIFY_PUSH_BACKEND", "notifications.transports.push.LoggingPushBackend"
)
NOTIFY_FCM_PROJECT_ID = env_optional("NOTIFY_FCM_PROJECT_ID")
NOTIFY_FCM_BASE_URL = env_str("NOTIFY_FCM_BASE_URL", "https://fcm.googleapis.com")
NOTIFY_FCM_CREDENTIALS_FILE = env_optional("NOTIFY_FCM_CREDENTIALS_FILE")
NOTIFY_FCM_TOKEN_PROVIDER = env_str(
    "NOTIFY_FCM_TOKEN_PROVIDER", "notifications.transports.fcm_auth.ServiceAccountTokenProvider"
)
NOTIFY_SMS_BACKEND = env_str("NOTIFY_SMS_BACKEND", "notifications.transports.sms.LoggingSmsBackend")
NOTIFY_SMS_URL = env_optional("NOTIFY_SMS_URL")
NOTIFY_SMS_TOKEN = env_secret("NOTIFY_SMS_TOKEN", "") or None
NOTIFY_SMS_SENDER = env_str("NOTIFY_SMS_SENDER", "")


def _notify_check() -> None:
    """A real channel configured without its settings fails start-up, not the first alert."""
    from django.core.exceptions import ImproperlyConfigured

    missing: list[str] = []
    if NOTIFY_PUSH_BACKEND.endswith(".FCMPushBackend"):
        if not NOTIFY_FCM_PROJECT_ID:
            missing.append("NOTIFY_FCM_PROJECT_ID")
        if NOTIFY_FCM_TOKEN_PROVIDER.endswith(".ServiceAccountTokenProvider") and not (
            NOTIFY_FCM_CREDENTIALS_FILE and Path(NOTIFY_FCM_CREDENTIALS_FILE).is_file()
        ):
            missing.append("NOTIFY_FCM_CREDENTIALS_FILE (an existing service-account key)")
    if NOTIFY_SMS_BACKEND.endswith(".HttpSmsBackend"):
        missing += [
            n
            for n, v in (("NOTIFY_SMS_URL", NOTIFY_SMS_URL), ("NOTIFY_SMS_TOKEN", NOTIFY_SMS_TOKEN))
            if not v
        ]
    if missing:
        raise ImproperlyConfigured("Notification channel settings missing: " + ", ".join(missing))


_notify_check()
