"""The database restarting under load (PostgreSQL): while it is down every request gets 503
with a JSON body and Retry-After — no traceback, no database URL — nothing is half-written, and
the server recovers by itself when the database is back. Skipped, with the reason, where the
PostgreSQL binaries or psycopg are missing (scripts/test.sh installs them)."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from server_support import free_port, image, served, wait_until


class Postgres:
    """A throwaway PostgreSQL cluster that the test can stop and start again."""

    def __init__(self) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            pytest.skip("needs psycopg: pip install 'psycopg[binary]'")
        found = [(shutil.which("initdb", path=f), shutil.which("pg_ctl", path=f))
                 for f in [None, *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]]
        found = [pair for pair in found if all(pair)]
        if not found:
            pytest.skip("needs the PostgreSQL server binaries: apt-get install -y postgresql")
        (self.initdb, self.pg_ctl), self.prefix = found[0], []
        self.base = Path(tempfile.mkdtemp(prefix="facelens-server-pg-"))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            import pwd

            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root without a 'postgres' user to run PostgreSQL as")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.base / "data", free_port()
        subprocess.run([*self.prefix, self.initdb, "-D", str(self.data), "-U", "facelens", "-A", "trust",
                        "--no-sync", "--no-instructions"], check=True, capture_output=True, timeout=120)
        self.start()

    def start(self) -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-l", str(self.base / "log"), "-w", "-t", "60",
                        "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True, timeout=90)

    def stop(self) -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=60)

    def database(self) -> str:
        import psycopg

        name = "s_" + uuid.uuid4().hex[:10]
        with psycopg.connect(f"postgresql://facelens@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://facelens@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    server = Postgres()
    yield server
    server.close()


def test_requests_get_503_while_the_database_is_down_and_recover_after(postgres, tmp_path):
    url = postgres.database()
    with served(tmp_path, "[server]\nworkers = 2\nkey_cache_s = 600\n", {"op": "operator"}, db=url) as server:
        with server.client("op") as client:
            made = client.post("/api/v1/subjects", data={"name": "pg-obama"}, files=[("images", image("obama.jpg"))])
            assert made.status_code == 201, made.text
            postgres.stop()

            async def burst() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=server.base, headers=client.headers, timeout=60) as load:
                    reads = [load.get("/api/v1/subjects") for _ in range(6)]
                    writes = [load.post("/api/v1/subjects", data={"name": f"pg-down-{i}"},
                                        files=[("images", image("biden.jpg"))]) for i in range(2)]
                    return await asyncio.gather(*reads, *writes)

            for response in asyncio.run(burst()):
                assert response.status_code == 503, response.text
                assert response.json() == {"error": "the database is unavailable; retry shortly",
                                           "code": "storage_unavailable"}
                assert response.headers["Retry-After"] == "5"
                assert str(postgres.port) not in response.text and "Traceback" not in response.text
            health = httpx.get(f"{server.base}/health", timeout=30)
            assert health.status_code == 503 and health.json()["database"] == {"ok": False, "error": "unavailable"}

            postgres.start()
            wait_until(lambda: client.get("/api/v1/subjects").status_code == 200, 30, 0.5, "the server to recover")
            names = [i["name"] for i in client.get("/api/v1/subjects").json()["identities"]]
            assert names == ["pg-obama"]  # nothing half-written by the refused enrolments
            again = client.post("/api/v1/subjects", data={"name": "pg-biden"}, files=[("images", image("biden.jpg"))])
            assert again.status_code == 201
            assert httpx.get(f"{server.base}/health", timeout=30).status_code == 200
