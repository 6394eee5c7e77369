# The chat frontends (`python -m bot`): aiogram, discord.py, the queue client. No torch, no models.
# Build from the repository root: docker build -f docker/bot.Dockerfile -t molbert-bot .
# It expects REDIS_URL (docker-compose.yml sets it); the one-machine mode needs the worker extra, not here.
#
# Two stages: the first builds a virtualenv (pip, wheels, build tools stay there); the second copies only the
# venv onto a clean base and runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core/ core/
COPY bot/ bot/
COPY handlers/ handlers/
COPY workers/ workers/
COPY models/ models/
RUN /opt/venv/bin/pip install ".[bot]"

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin molbert \
    && mkdir -p /app/data \
    && chown molbert:molbert /app/data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER molbert
CMD ["python", "-m", "bot"]
