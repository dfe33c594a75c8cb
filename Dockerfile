# SIGANTENG: one image for the web process (gunicorn) and the task workers (qcluster).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=siganteng.settings \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# Static files are collected at build time and served by WhiteNoise from every web process.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app siganteng \
    && mkdir -p /app/var/metrics \
    && chown -R siganteng /app/var

USER siganteng
EXPOSE 8000

# The worker service overrides this with: python manage.py qcluster
CMD ["gunicorn", "siganteng.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--worker-class", "gthread", "--threads", "8", "--timeout", "120"]
