"""`gova up`: the whole stack on one machine, started in order and stopped in reverse."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

from gova.runners.embedded import start_postgres, start_redis, start_tansu
from gova.runners.process import Process, StartError, require_free
from gova.settings import Settings, get_settings

DEMO_TENANT = "demo"
DEMO_LABEL = "gova up demo key"


def say(msg: str) -> None:
    print(f"gova: {msg}", flush=True)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except Exception:
        return False


async def create_key(dsn: str, tenant: str, label: str = "", *, rotate: bool = False) -> str:
    """Create a tenant's API key (and the tenant if new); `rotate` revokes its older keys
    with the same label first."""
    from gova.storage import PostgresStorage

    storage = await PostgresStorage.connect(dsn, max_size=1)
    try:
        return await storage.tenants.create_key(tenant, label, rotate=rotate)
    finally:
        await storage.close()


class Stack:
    """Gova's processes. Each is optional, so tests can restart one and keep the rest."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log_dir = settings.data_dir / "logs"
        self.procs: dict[str, Process] = {}

    def child_env(self) -> dict[str, str]:
        """Children resolve the same addresses as we do: hand them our settings."""
        s = self.settings
        env = dict(os.environ)
        env.update(
            KAFKA_BROKER=s.broker(),
            DATABASE_URL=s.database(),
            REDIS_URL=s.redis(),
            GOVA_EMBEDDED_BROKER="1" if s.tansu_workarounds else "0",
            GOVA_DATA_DIR=str(s.data_dir.resolve()),
            GOVA_API_HOST=s.api_host,
            GOVA_API_PORT=str(s.api_port),
            GOVA_MONITOR_PORT=str(s.monitor_port),
            GOVA_PARTITIONS=str(s.partitions),
            GOVA_PRODUCER_LINGER_S=str(s.producer_linger_s),
            GOVA_SECRET_KEY=self.secret_key(),
            PYTHONUNBUFFERED="1",
        )
        return env

    def secret_key(self) -> str:
        """GOVA_SECRET_KEY, or one kept in the data dir (made on first use, mode 600)."""
        if self.settings.secret_key:
            return self.settings.secret_key
        from gova import secrets

        path = self.settings.data_dir / "secret.key"
        if not path.exists():
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.new_key())
        return path.read_text().strip()

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.monitor_port}"

    def start_infra(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        if s.kafka_broker is None:
            say(f"starting embedded Kafka broker (Tansu) on 127.0.0.1:{s.embedded_kafka_port}")
            self.procs["tansu"] = start_tansu(s.embedded_kafka_port, self.log_dir)
        if s.database_url is None:
            say(f"starting embedded PostgreSQL in {s.pg_dir}")
            self.procs["postgres"] = start_postgres(s.pg_dir, self.log_dir)
        if s.redis_url is None:
            say(f"starting embedded Redis on 127.0.0.1:{s.embedded_redis_port}")
            self.procs["redis"] = start_redis(
                s.embedded_redis_port, s.data_dir / "redis", self.log_dir
            )

    def prepare(self) -> None:
        from gova.storage.migrations import run_migrations
        from gova.streams.admin import ensure_topics

        applied = asyncio.run(run_migrations(self.settings.database()))
        say(f"database migrations applied: {', '.join(applied) or 'none pending'}")
        s = self.settings
        created = asyncio.run(ensure_topics(s.broker()))
        say(f"topics created: {', '.join(created) or 'none (all exist)'}")
        if created:  # a new (or wiped) broker: give the worker its authors' history back
            from gova.worker.rehydrate import rehydrate_behaviour, republish_moderators

            n = asyncio.run(rehydrate_behaviour(s.database(), s.broker(), s.app_id, s.partitions))
            if n:
                say(f"behaviour of {n} authors restored from PostgreSQL")
            n = asyncio.run(republish_moderators(s.database(), s.broker()))
            if n:
                say(f"{n} moderators restored from PostgreSQL")

    def start_worker(
        self, name: str = "worker", monitor_port: int | None = None, timeout: float = 120
    ) -> Process:
        """Start a worker; more than one (each with its own monitor port) share the partitions."""
        s = self.settings
        port = monitor_port or s.monitor_port
        require_free(s.api_host, port, "Faust web monitor", "GOVA_MONITOR_PORT")
        env = self.child_env() | {"GOVA_MONITOR_PORT": str(port), "GOVA_WORKER_NAME": name}
        proc = self._spawn(name, "worker", env)
        ready = f"http://{s.api_host}:{port}/gova/ready/"
        proc.wait_until(lambda: _http_ok(ready), timeout, "partitions assigned, tables recovered")
        return proc

    def start_api(self, timeout: float = 60) -> Process:
        s = self.settings
        require_free(s.api_host, s.api_port, "API", "GOVA_API_PORT")
        proc = self._spawn("api", "api")
        proc.wait_until(lambda: _http_ok(f"{self.api_url}/healthz"), timeout, "/healthz answers")
        return proc

    def start_bridge(self) -> Process:
        """The Discord gateway bridge; it has no port, so it is started, not waited for."""
        return self._spawn("discord-bridge", "discord-bridge")

    def _spawn(self, name: str, command: str, env: dict[str, str] | None = None) -> Process:
        """`gova <command>` as a child named `name`, logging to logs/<name>.log."""
        proc = Process(
            name,
            [sys.executable, "-m", "gova", command],
            self.log_dir / f"{name}.log",
            env=env or self.child_env(),
        ).start()
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            proc.stop()

    def stop_all(self) -> None:
        services = [n for n in self.procs if n not in ("redis", "postgres", "tansu")]
        for name in [*services, "redis", "postgres", "tansu"]:
            self.stop(name)

    def dead(self) -> list[Process]:
        return [p for p in self.procs.values() if not p.alive()]


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def up() -> int:
    settings = get_settings()
    stack = Stack(settings)
    run_file: Path = settings.run_file
    old = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # Check every port first, so a busy one fails fast and before anything started.
        require_free(settings.api_host, settings.api_port, "API", "GOVA_API_PORT")
        require_free(
            settings.api_host, settings.monitor_port, "Faust web monitor", "GOVA_MONITOR_PORT"
        )
        stack.start_infra()
        stack.prepare()
        key = asyncio.run(create_key(settings.database(), DEMO_TENANT, DEMO_LABEL, rotate=True))
        say("starting the Faust worker (agents, tables, web monitor)")
        stack.start_worker()
        say("starting the API")
        stack.start_api()
        if settings.discord_bot_token or settings.discord_bridge:
            say("starting the Discord gateway bridge (guilds of started discord moderators)")
            stack.start_bridge()
        else:
            say("no Discord gateway bridge (set DISCORD_BOT_TOKEN or GOVA_DISCORD_BRIDGE=1)")
        run_file.write_text(
            json.dumps(
                {"api_url": stack.api_url, "monitor_url": stack.monitor_url, "api_key": key},
                indent=2,
            )
        )
        run_file.chmod(0o600)
        print(
            f"\nGova is up.\n"
            f"  API docs:        {stack.api_url}/docs\n"
            f"  Faust monitor:   {stack.monitor_url}/\n"
            f"  demo API key:    {key}   (tenant '{DEMO_TENANT}', new on every start)\n"
            f"  logs:            {stack.log_dir}/\n"
            f"  for scripts:     {run_file}\n\n"
            f"Try:\n  curl -H 'Authorization: Bearer {key}' "
            f'-d \'{{"id":"m1","userId":"u1","contentType":"text","content":"hello"}}\''
            f" '{stack.api_url}/api/v1/moderate?wait=true'\n\nCtrl-C stops everything.",
            flush=True,
        )
        while True:
            dead = stack.dead()
            if dead:
                p = dead[0]
                say(f"{p.name} exited unexpectedly; last lines of {p.log_path}:\n{p.log_tail()}")
                return 1
            time.sleep(0.5)
    except _Stop as stop:
        say(f"{stop}: stopping")
        return 0
    except StartError as exc:
        say(f"error: {exc}")
        return 1
    except Exception as exc:  # say what failed in a line, not a traceback; logs hold the rest
        say(f"error: {type(exc).__name__}: {exc} (process logs: {stack.log_dir}/)")
        return 1
    finally:
        for sig, handler in old.items():
            signal.signal(sig, signal.SIG_IGN if sig == signal.SIGINT else handler)
        run_file.unlink(missing_ok=True)
        stack.stop_all()
        say("stopped")
