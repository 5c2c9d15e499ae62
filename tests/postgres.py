"""A throw-away PostgreSQL server for the tests: Debian's `postgresql` package, a cluster in a
temporary folder, on a free port of 127.0.0.1, with a random password (scram-sha-256 over TCP).
PostgreSQL refuses to run as root, so as root (CI) the server runs as the unprivileged user the
package makes (`postgres`), through `runuser`. Without the package the tests that need it skip,
unless NNREG_REQUIRE_POSTGRES=1 (CI), where they fail."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (initdb is not on Debian's PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`url` (with the password: only for the processes under test), `password`, `stop()`,
    `start()`."""

    def __init__(self):
        self.bin = bin_dir()
        self.folder = Path(tempfile.mkdtemp(prefix="nnreg-postgres-"))
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self.port = _free_port()
        self.password = secrets.token_urlsafe(18)
        self.user = "nnreg"
        self.url = f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/nnreg"
        self.as_other = os.geteuid() == 0  # PostgreSQL refuses root
        if self.as_other:
            shutil.chown(self.folder, "postgres", "postgres")
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self.as_other:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile), "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        pwfile.unlink()
        self.start()
        self.create_database("nnreg")

    def create_database(self, name: str) -> str:
        """A new database `name`; returns its URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{name}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_other:
            command = ["runuser", "-u", "postgres", "--", *command]
        proc = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        assert proc.returncode == 0, f"{' '.join(command)}: {proc.stdout}{proc.stderr}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    if bin_dir() is None:
        message = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("NNREG_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = Server()
    yield server
    server.remove()
