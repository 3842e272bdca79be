"""`gova up` as a user runs it: run.json when ready, stopped by a signal, data kept, busy ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import _free_port


@pytest.fixture()
def up_env():
    data = Path(tempfile.mkdtemp(prefix="gova-up-", dir="/tmp"))
    env = dict(os.environ)
    env.update(
        GOVA_DATA_DIR=str(data),
        GOVA_API_PORT=str(_free_port()),
        GOVA_MONITOR_PORT=str(_free_port()),
        GOVA_EMBEDDED_KAFKA_PORT=str(_free_port()),
        GOVA_EMBEDDED_REDIS_PORT=str(_free_port()),
    )
    yield env
    shutil.rmtree(data, ignore_errors=True)


def start_up(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gova", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        if proc.poll() is not None:
            raise AssertionError(f"gova up exited early:\n{proc.stdout.read()}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no {path} after {timeout}s:\n{proc.stdout.read()}")


def stop(proc: subprocess.Popen, sig: int) -> tuple[int, str, list[psutil.Process]]:
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out, children


def test_up_serves_stops_cleanly_and_keeps_its_data(up_env):
    run_file = Path(up_env["GOVA_DATA_DIR"]) / "run.json"
    first = start_up(up_env)
    run = wait_for_file(run_file, first)
    assert set(run) == {"api_url", "monitor_url", "api_key"}
    headers = {"Authorization": f"Bearer {run['api_key']}"}
    item = {"id": "up-1", "userId": "u", "contentType": "text", "content": "you stupid idiot"}
    r = httpx.post(
        f"{run['api_url']}/api/v1/moderate?wait=true", json=item, headers=headers, timeout=30
    )
    assert r.status_code == 200 and r.json()["decision"] == "act"
    assert r.json()["behaviour"]["strikes"] == 1
    assert httpx.get(f"{run['monitor_url']}/", timeout=10).status_code == 200

    code, out, children = stop(first, signal.SIGTERM)
    assert code == 0, out
    assert "Gova is up" in out and "/docs" in out and run["api_key"] in out
    assert not run_file.exists()
    assert len(children) >= 5  # tansu, postgres, redis, worker, api
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphans left: {alive}"

    second = start_up(up_env)
    run2 = wait_for_file(run_file, second)
    assert run2["api_key"] != run["api_key"]
    old_key = httpx.get(f"{run2['api_url']}/api/v1/content/up-1", headers=headers, timeout=10)
    assert old_key.status_code == 401  # the demo key rotates on every start
    headers2 = {"Authorization": f"Bearer {run2['api_key']}"}
    kept = httpx.get(f"{run2['api_url']}/api/v1/content/up-1", timeout=10, headers=headers2)
    assert kept.status_code == 200 and kept.json()["decision"] == "act"
    # The embedded broker started empty, yet the author's history came back from PostgreSQL.
    again = {**item, "id": "up-2"}
    r = httpx.post(
        f"{run2['api_url']}/api/v1/moderate?wait=true", json=again, headers=headers2, timeout=30
    )
    assert r.json()["behaviour"]["strikes"] == 2
    code, out, children = stop(second, signal.SIGINT)
    assert code == 0, out
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphans left: {alive}"


def test_busy_port_is_a_clear_error_not_a_hang(up_env):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(up_env["GOVA_API_PORT"])))
        blocker.listen()
        proc = start_up(up_env)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"port {up_env['GOVA_API_PORT']}" in out and "GOVA_API_PORT" in out
    assert "Gova is up" not in out
    assert not (Path(up_env["GOVA_DATA_DIR"]) / "run.json").exists()


def test_apikey_create_prints_a_working_key(stack):
    proc = subprocess.run(
        [sys.executable, "-m", "gova", "apikey", "create", "--tenant", "initech", "--label", "ci"],
        env=stack.child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    key = proc.stdout.strip()
    assert key.startswith("gova_") and "not shown again" in proc.stderr
    assert key not in proc.stderr
    import asyncio

    from gova.storage import PostgresStorage

    async def lookup():
        storage = await PostgresStorage.connect(stack.settings.database(), max_size=1)
        try:
            return await storage.tenants.for_key(key)
        finally:
            await storage.close()

    assert asyncio.run(lookup()).id == "initech"
