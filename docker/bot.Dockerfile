# The chat frontends (`python -m bot`): aiogram, discord.py, the queue client. No torch, no models.
# Build from the repository root: docker build -f docker/bot.Dockerfile -t molbert-bot .
# It expects REDIS_URL (docker-compose.yml sets it); the one-machine mode needs the worker extra, not here.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin molbert

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY handlers/ handlers/
COPY workers/ workers/
COPY models/ models/
RUN pip install ".[bot]" \
    && mkdir -p /app/data \
    && chown molbert:molbert /app/data

USER molbert
CMD ["python", "-m", "bot"]
