"""A throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl start`` in a temp dir, on loopback, on a
free port, as an unprivileged user (PostgreSQL refuses to run as root, and CI runs as root).

The binaries come from ``pg_config --bindir`` or Debian's ``/usr/lib/postgresql/<version>/bin`` (``.ci/run``
installs the ``postgresql`` package). Each test gets a database of its own (:meth:`PostgresServer.new_database`).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "molbert"
UNPRIVILEGED = ("postgres", "nobody")  # Debian's package creates postgres; nobody exists everywhere


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, or ``None`` when PostgreSQL is not installed."""
    candidates = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name), reverse=True
    )
    candidates += [Path(path) for path in versions]
    return next((path for path in candidates if (path / "initdb").exists() and (path / "pg_ctl").exists()), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One cluster, started by :meth:`start` and removed by :meth:`stop`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="molbert-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = self._run_as()
        self._names = itertools.count(1)

    @staticmethod
    def _run_as() -> str | None:
        """The user to run the server as: ourselves unless we are root, else an unprivileged one."""
        if os.geteuid() != 0:
            return None
        for name in UNPRIVILEGED:
            try:
                pwd.getpwnam(name)
            except KeyError:
                continue
            return name
        raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")

    def _command(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *argv] if self.user else list(argv)

    def start(self) -> None:
        """``initdb`` (trust on loopback, no password) and ``pg_ctl start``; waits until it accepts connections."""
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)
        initdb = self._command(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        subprocess.run(initdb, check=True, capture_output=True, cwd=self.root)
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c fsync=off"
        start = self._command(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w",
            "start",
        )  # fmt: skip
        subprocess.run(start, check=True, capture_output=True, cwd=self.root)

    def stop(self) -> None:
        """Stop the server and delete its files."""
        stop = self._command(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        subprocess.run(stop, check=False, capture_output=True, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg) for ``database``."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """An empty database of its own for one test; its URL."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True
        ) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
