# rq-dashboard (the `dashboard` profile of docker-compose.yml): RQ's own web UI for queues, jobs and workers.
# Pinned to the rq our workers run, so it reads the same job format; --json because our jobs are JSON, not pickle.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install "rq-dashboard==0.9.0" "rq==3.0.0"

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin dashboard
COPY --from=build /opt/venv /opt/venv
USER dashboard
EXPOSE 9181
CMD ["rq-dashboard", "--json", "--bind", "0.0.0.0", "--port", "9181"]
