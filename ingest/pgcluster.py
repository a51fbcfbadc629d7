"""The embedded default database: a private PostGIS cluster regiongis starts itself.

Used when no DATABASE_URL is given, so `make demo` works on a fresh machine with nothing but the
Debian packages installed. The cluster lives in one folder, listens on 127.0.0.1 at a port chosen
once and remembered, and is reused on the next run.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import sql

from ingest.errors import DatabaseUnavailable
from ingest.ostn15 import copy_grid, proj_data_env

PG_ROOT = Path("/usr/lib/postgresql")
INSTALL_HINT = (
    "PostgreSQL with PostGIS is not installed. On Debian run: "
    "apt-get install -y postgresql-15-postgis-3 (or use `docker compose up`, "
    "or set DATABASE_URL to a server you have)."
)
DB_NAME = "regiongis"
DB_USER = "regiongis"


def find_bindir() -> Path:
    """The newest installed PostgreSQL whose share folder also holds PostGIS."""
    candidates = sorted(PG_ROOT.glob("*/bin"), key=lambda p: float(p.parent.name), reverse=True)
    for bindir in candidates:
        version = bindir.parent.name
        if Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            return bindir
    raise DatabaseUnavailable(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable_by_others(folder: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in folder.resolve().parents)


def cluster_folder(state_dir: Path) -> Path:
    """Where the cluster lives: state_dir/pg, unless PostgreSQL's own user could not reach it.

    As root the server runs as the postgres user, which cannot enter a folder under a private
    home (mode 700); then the cluster goes under /var/tmp, keyed by the state folder's path.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or _reachable_by_others(state_dir):
        return state_dir / "pg"
    key = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return Path("/var/tmp/regiongis") / key / "pg"


@dataclass(frozen=True)
class EmbeddedCluster:
    """A cluster folder; all state (port, password, log) is kept inside it."""

    folder: Path

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def _read(self, name: str) -> str:
        return (self.folder / name).read_text().strip()

    @property
    def url(self) -> str:
        password = quote(self._read("password"), safe="")
        return f"postgresql://{DB_USER}:{password}@127.0.0.1:{self._read('port')}/{DB_NAME}"

    def _run(
        self, *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """Run a PostgreSQL tool as the folder's owner: PostgreSQL refuses to run as root."""
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        env = {**os.environ, **(env or {})}
        return subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)

    def _check(self, result: subprocess.CompletedProcess, what: str) -> None:
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise DatabaseUnavailable(
                f"could not {what} the embedded PostgreSQL: {' '.join(detail)}"
            )

    def _hand_to_postgres_user(self, folder: Path | None = None) -> None:
        folder = folder or self.folder
        if os.geteuid() != 0:
            return
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise DatabaseUnavailable(INSTALL_HINT) from exc
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def init(self, bindir: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "password").write_text(secrets.token_urlsafe(18))
        (self.folder / "port").write_text(str(free_port()))
        (self.folder / "password").chmod(0o600)
        self._hand_to_postgres_user()
        pwfile = self.folder / "password"
        self._check(
            self._run(
                bindir / "initdb",
                "-D",
                self.data,
                "-U",
                DB_USER,
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ),
            "initialise",
        )

    def running(self, bindir: Path) -> bool:
        return (
            self.data.exists()
            and self._run(bindir / "pg_ctl", "-D", self.data, "status").returncode == 0
        )

    def start(self) -> str:
        """Start (initialising on first use) and return the DATABASE_URL to reach it."""
        bindir = find_bindir()
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.folder, ignore_errors=True)
            self.init(bindir)
        if not self.running(bindir):
            # wal_level=minimal, as PostgreSQL advises for bulk loading: a table emptied in the
            # loading transaction is then COPYed into with no WAL (see ingest.load._emptied).
            # A private cluster has no replicas or WAL archive to need more.
            proj = self.folder / "proj"  # PostGIS's PROJ transforms with OSTN15 as ingest's does
            copy_grid(proj)
            self._hand_to_postgres_user(proj)
            options = (
                f"-p {self._read('port')} -c listen_addresses=127.0.0.1 "
                f"-k {self.folder.resolve()} -c synchronous_commit=off -c max_connections=200 "
                "-c wal_level=minimal -c max_wal_senders=0"
            )
            result = self._run(
                bindir / "pg_ctl",
                "-D",
                self.data,
                "-l",
                self.log,
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
                env=proj_data_env(proj),
            )
            self._check(result, f"start (see {self.log})")
        self._create_database()
        return self.url

    def _create_database(self) -> None:
        admin_url = self.url.rsplit("/", 1)[0] + "/postgres"
        conn = psycopg2.connect(admin_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
        finally:
            conn.close()

    def stop(self) -> bool:
        """Stop the cluster if it runs; True when it was running."""
        bindir = find_bindir()
        if not self.running(bindir):
            return False
        self._check(
            self._run(bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"), "stop"
        )
        return True
