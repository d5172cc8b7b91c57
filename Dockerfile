# IMCBench Studio: one image for every process (web, workers, beat, release); compose.yaml and the Procfile say
# which command each runs. Build: docker build -t imcbench-studio .

# The front-end libraries come from the npm registry, vendored by the script `make assets` runs.
FROM node:22-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
COPY assets assets
RUN bash assets/build.sh

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    IMCBENCH_DATA_DIR=/srv/imcbench/data \
    MEDIA_ROOT=/srv/imcbench/media \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000

# pg_dump and pg_restore for `manage.py backup` / `restore` (docs/deployment.md), matching compose's PostgreSQL.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system imcbench && useradd --system --gid imcbench --home-dir /app imcbench
WORKDIR /app

COPY . .
COPY --from=assets /build/static/vendor static/vendor
# Pinned by constraints.txt. Editable, so the code stays in /app, where settings.BASE_DIR finds templates/ and
# static/. Static files are collected (and compressed, with hashed names) into the image.
RUN pip install --quiet -c constraints.txt -e ".[providers,adapters,deploy,inspect]" \
    && DEBUG=0 SECRET_KEY=collectstatic-at-build-only ALLOWED_HOSTS=build \
       python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /srv/imcbench/data /srv/imcbench/media \
    && chown -R imcbench:imcbench /srv/imcbench /app/staticfiles

USER imcbench
VOLUME ["/srv/imcbench/data", "/srv/imcbench/media"]
EXPOSE 8000
CMD ["gunicorn", "imcbench_site.wsgi", "-c", "gunicorn.conf.py"]
