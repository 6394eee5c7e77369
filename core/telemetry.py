"""Observability plumbing shared by frontends and workers: hashed user ids, one structured log line per stage of a
job's life, the log format (text or JSON), and the small HTTP server that answers ``/metrics`` and ``/healthz``.

Job log lines carry their fields as ``extra`` attributes of the record: the JSON format (python-json-logger)
writes them as keys of the object, the text format appends them as ``key=value``. User ids are never logged
raw: :func:`hash_user` turns them into a short keyed hash (``LOG_USER_KEY``) that is the same in every process,
so one user's jobs can be followed across the bot and the workers without knowing who the user is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from core.protocol import ChatRef, StageTimes

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
HEALTH_PATH = "/healthz"

log = logging.getLogger(__name__)
_user_key = b""


def set_user_key(key: str | None) -> None:
    """The key of :func:`hash_user` (``LOG_USER_KEY``); without one the hash is unkeyed, and a numeric id guessable."""
    global _user_key
    _user_key = (key or "").encode()[:32]  # blake2s takes a key of up to 32 bytes


def hash_user(chat: ChatRef) -> str:
    """A short stable pseudonym of the chat's user (12 hex digits), for logs; never the raw id."""
    data = f"{chat.platform}:{chat.user_id}".encode()
    return hashlib.blake2s(data, key=_user_key, digest_size=6).hexdigest()


def job_fields(job_id: str, chat: ChatRef, kind: str | None = None, times: StageTimes | None = None) -> dict[str, Any]:
    """The fields of a job's log lines: job id, platform, chat id, hashed user, kind, and the stage durations."""
    fields: dict[str, Any] = {
        "job_id": job_id,
        "platform": chat.platform,
        "chat": str(chat.chat_id),
        "user": hash_user(chat),
    }
    if kind is not None:
        fields["kind"] = kind
    if times is not None:
        fields.update(times.durations_ms())
    return fields


def log_job(
    logger: logging.Logger,
    event: str,
    job_id: str,
    chat: ChatRef,
    kind: str | None = None,
    times: StageTimes | None = None,
    level: int = logging.INFO,
    **more: Any,
) -> None:
    """Log one stage of a job's life as ``event`` (``job_enqueued``, ``job_delivered``…) with the job's fields."""
    fields = {"event": event, **job_fields(job_id, chat, kind, times), **more}
    logger.log(level, event, extra=fields)


class TextFormatter(logging.Formatter):
    """The readable format, with a record's extra fields appended as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, then the extras (``event`` is the message already)."""
        line = super().format(record)
        extras = [
            f"{key}={_text_value(value)}"
            for key, value in record.__dict__.items()
            if key not in RESERVED_ATTRS and key != "event" and not key.startswith("_")
        ]
        return " ".join([line, *extras])


def _text_value(value: Any) -> str:
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":")) if isinstance(value, dict | list) else str(value)
    )


def configure_logging(fmt: str = "text", level: str | int | None = None) -> None:
    """Give the root logger's handlers the ``text`` or ``json`` format (``LOG_FORMAT``), and ``level`` if given."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(JSON_FORMAT, rename_fields={"levelname": "level", "asctime": "time"})
    else:
        formatter = TextFormatter(TEXT_FORMAT)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    if level is not None:
        root.setLevel(level)


HealthCheck = Callable[[], dict[str, bool]]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log: a scrape every few seconds is noise."""


class MonitoringServer:
    """``/metrics`` (Prometheus text format) and ``/healthz`` on one port, served from daemon threads.

    ``health`` returns named checks; ``/healthz`` answers 200 when all pass and 503 otherwise, with the checks as
    JSON. Threads rather than the event loop: a scrape or a probe never competes with deliveries, collectors may
    call Redis synchronously, and a frozen event loop is noticed (its heartbeat check fails) instead of the probe
    itself hanging. ``port`` 0 switches the server off.
    """

    def __init__(self, port: int, health: HealthCheck, registry: CollectorRegistry = REGISTRY, host: str = "0.0.0.0"):
        self.port, self.host, self.health = port, host, health
        self._metrics: WSGIApplication = make_wsgi_app(registry)
        self._server: ThreadingWSGIServer | None = None

    def start(self) -> bool:
        """Listen and serve in a thread; a port that is taken is logged, not fatal (the chat matters more)."""
        if not self.port:
            return False
        try:
            self._server = make_server(
                self.host, self.port, self._app, ThreadingWSGIServer, handler_class=_QuietHandler
            )
        except OSError as exc:
            log.error("metrics and health server not started on port %d: %s", self.port, exc)
            return False
        threading.Thread(target=self._server.serve_forever, name="monitoring", daemon=True).start()
        log.info("metrics on :%d/metrics, health on :%d%s", self.port, self.port, HEALTH_PATH)
        return True

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != HEALTH_PATH:
            return self._metrics(environ, start_response)
        try:
            checks = self.health()
        except Exception as exc:  # a failing check is an unhealthy process, not a server error
            checks = {"check": False}
            log.warning("health check failed: %s", exc)
        healthy = all(checks.values())
        body = json.dumps({"healthy": healthy, **checks}).encode()
        start_response("200 OK" if healthy else "503 Service Unavailable", [("Content-Type", "application/json")])
        return [body]


def probe_health(port: int, timeout: float = 5.0) -> int:
    """``python -m bot health`` / ``python -m workers health``: ask the local ``/healthz``; exit code 0 or 1."""
    if not port:
        print("the metrics port is 0 (off): no health endpoint to ask")
        return 1
    url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode())
    except (OSError, urllib.error.URLError) as exc:
        print(f"no answer from {url}: {exc}")
    return 1
