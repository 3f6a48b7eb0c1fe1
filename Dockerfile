# One image for web (gunicorn), worker and beat (celery) and the one-shot migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.base \
    TRACKER_VAR_DIR=/var/lib/tracker

# The processes run as this unprivileged user; the code stays root-owned and read-only to it.
RUN groupadd --system --gid 10001 tracker \
    && useradd --system --uid 10001 --gid tracker --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin tracker

WORKDIR /app

# Every wheel is pinned in requirements.txt (psycopg-binary bundles libpq): no compiler needed.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected at build time, with dummy values for the settings that have no
# safe default; real values come from the environment at run time.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-real-key DJANGO_DEBUG=false \
    python manage.py collectstatic --noinput \
    && mkdir -p "$TRACKER_VAR_DIR/media" \
    && chown -R tracker:tracker "$TRACKER_VAR_DIR"

USER tracker

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind=0.0.0.0:8000", "--access-logfile=-"]
