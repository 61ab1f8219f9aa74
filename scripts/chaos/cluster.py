"""A PostgreSQL cluster of the scenario's own, which it may stop, restart and kill at will.

Debian's server binaries (`/usr/lib/postgresql/<version>/bin`) are used when present, else the
ones the `pgserver` package ships. The cluster listens on 127.0.0.1 only, on a port chosen once,
so the service's DATABASE_URL stays valid across restarts and crashes. As root, the server runs
as the `postgres` system user (PostgreSQL refuses to run as root).

A migrated and seeded template is built once per process and copied for each cluster: a copy
takes a fraction of a second, an `initdb` plus the migrations several seconds.
"""

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from scripts.chaos.ports import free_port

DATABASE = "blokid"


class Unavailable(Exception):
    """Something a scenario needs is not installed on this machine."""


def server_binaries() -> Path:
    """The folder holding `initdb`, `postgres` and `pg_ctl`; raises `Unavailable` if none."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    for folder in reversed(debian):
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "pginstall" / "bin"
        if (folder / "initdb").exists():
            return folder
    raise Unavailable("no PostgreSQL server binaries (apt-get install postgresql, or pgserver)")


def _run_as() -> str | None:
    """The system user to run the server as: `postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable("running as root and there is no 'postgres' system user") from None
    return "postgres"


def _give_to(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    # The server's user must be able to reach the folder (temporary folders are private).
    for parent in path.parents:
        if parent == Path(tempfile.gettempdir()) or parent == parent.parent:
            break
        parent.chmod(parent.stat().st_mode | 0o055)
    for folder, _dirs, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(Path(folder) / name, entry.pw_uid, entry.pw_gid)


def _children(pid: int) -> list[int]:
    """Every process whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class PostgresCluster:
    """One PostgreSQL server in a folder of its own, on a fixed loopback port."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "postgres.log"
        self.port = port or free_port()
        self.bin = server_binaries()
        self.user = _run_as()

    @property
    def admin_url(self) -> str:
        """The `postgres` database, as the superuser (trust authentication on loopback)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        """The service's database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _command(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own programs
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.user,
            cwd=self.folder,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def init(self) -> None:
        """`initdb` an empty cluster with trust authentication for the superuser `postgres`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        _give_to(self.folder, self.user)
        self._command(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "max_connections": "100",
            "shared_buffers": "32MB",
            # A killed server process does not lose what the kernel already holds, so skipping
            # fsync changes nothing the crash scenarios can observe and spares a shared disk.
            "fsync": "off",
            "full_page_writes": "off",
            "log_min_messages": "warning",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = {value}\n")

    def copy_from(self, template: "PostgresCluster") -> None:
        """Make this cluster a copy of a stopped template cluster."""
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(template.data, self.data, symlinks=True)
        _give_to(self.folder, self.user)

    def start(self, timeout: float = 60) -> None:
        """Start the server and wait until it accepts connections (crash recovery included)."""
        stale = self.data / "postmaster.pid"
        if stale.exists() and self.postmaster_pid() is None:
            # Left by a killed server. PostgreSQL checks it too, but takes a zombie (or a reused
            # pid) for a running server and refuses to start.
            stale.unlink()
        self._command(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            f"-p {self.port}",
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` rolls back open transactions and ends every connection."""
        self._command("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid, or None."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return None
        # A killed postmaster may linger as a zombie until its parent (init) reaps it.
        return pid if comm in ("postgres", "postmaster") and _alive(pid) else None

    def kill(self) -> int:
        """SIGKILL the postmaster and every server process at once, as a crash would; returns
        how many processes were killed."""
        pid = self.postmaster_pid()
        if pid is None:
            return 0
        # Stopped first, so it forks no backend between the listing and the kill (each backend
        # is its own process group, so no one signal reaches them all).
        os.kill(pid, signal.SIGSTOP)
        victims = [pid, *_children(pid)]
        for victim in victims:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(v) for v in victims):
            time.sleep(0.02)
        return len(victims)

    def backends(self) -> int:
        """Client backends connected to the service's database."""
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = "
                "'client backend'",
                (DATABASE,),
            ).fetchone()
        return int(row[0]) if row else 0

    def destroy(self, *, remove: bool = True) -> None:
        """Stop the server (by force if need be) and remove its folder (unless told not to)."""
        if self.postmaster_pid() is not None:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.SubprocessError, OSError):
                self.kill()
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)


_template: PostgresCluster | None = None


def template_cluster() -> PostgresCluster:
    """A stopped cluster holding the migrated, policy-seeded service database (built once per
    process, in a temporary folder removed at exit)."""
    global _template
    if _template is not None:
        return _template
    from scripts.databases import prepare

    folder = Path(tempfile.mkdtemp(prefix="blokid-chaos-template-"))
    cluster = PostgresCluster(folder / "cluster")
    try:
        cluster.init()
        cluster.start()
        with psycopg.connect(cluster.admin_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        prepare(cluster.url, quiet=True)
        cluster.stop()
    except BaseException:
        cluster.destroy()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    import atexit

    atexit.register(shutil.rmtree, folder, True)
    _template = cluster
    return cluster


def new_cluster(folder: Path) -> PostgresCluster:
    """A started cluster in `folder`, a copy of the template."""
    cluster = PostgresCluster(folder)
    cluster.copy_from(template_cluster())
    cluster.start()
    return cluster
