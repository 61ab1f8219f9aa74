# syntax=docker/dockerfile:1
# BlokID backend image. Dependencies come from uv.lock only (--frozen), so the
# image runs exactly what the tests ran.

FROM python:3.11-slim AS builder

# Same uv as the Makefile, so the lock file is read the same way.
RUN pip install --no-cache-dir uv==0.13.8

# Use the image's Python (never a downloaded one) and build the venv at the path
# the runtime stage uses, so its scripts' shebangs stay valid after the copy.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /app
# Only the dependency manifests: this layer is rebuilt when they change, not on every code edit.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --no-install-package pgserver


FROM python:3.11-slim AS runtime

# An image is for deployment: production's checks (a real SECRET_KEY, an address for mailed
# links, an SMTP server) apply unless the environment says otherwise.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000

# A fixed uid, so mounted volumes can be granted to it.
RUN groupadd --system --gid 10001 blokid \
    && useradd --system --uid 10001 --gid blokid --home-dir /app --no-create-home blokid

WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY alembic.ini casbin_model.conf pyproject.toml uv.lock ./
COPY app/ app/
COPY migrations/ migrations/
COPY policies/ policies/
COPY scripts/ scripts/

# .data/ is the only place the app writes (mail files when SMTP_HOST is unset); the code stays root-owned.
RUN mkdir -p /app/.data && chown blokid:blokid /app/.data

# Numeric, so runtimes (e.g. Kubernetes runAsNonRoot) can verify it is not root.
USER 10001:10001
EXPOSE 8000

# /health/ready answers 503 until the database is reachable and the policy is loaded;
# urlopen raises on it, so the check fails. Start period covers the migrations.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health/ready', timeout=4)"]

# Applies migrations (alembic upgrade head), loads policies/policy.csv, then runs uvicorn.
# Requires DATABASE_URL: without it serve.py would try to start an embedded PostgreSQL.
CMD ["python", "-m", "scripts.serve"]
