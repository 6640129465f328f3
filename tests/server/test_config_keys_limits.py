"""The parts that need no running server: the TOML settings, `facelens keys`, the rate limiter
and the worker pool's time-out."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from facelens.cli.app import run_cli
from facelens.errors import BadInputError
from facelens.server.config import load_settings
from facelens.server.errors import ApiError, scrub
from facelens.server.limits import RateLimiter, WorkPool


def write(tmp_path, text: str):
    path = tmp_path / "facelens.toml"
    path.write_text(text)
    return path


def test_settings_from_toml_with_flags_winning(tmp_path):
    path = write(tmp_path, """
[server]
port = 9000
workers = 3
[watchlists.vip]
threshold = 0.5
[[cameras]]
id = "front"
source = "rtsp://user:secret@10.0.0.5/stream1"
watchlist = "vip"
[mqtt]
host = "broker.local"
password = "hunter2"
[doors.lab]
liveness = "passive"
""")
    settings = load_settings(path, port=8123, db="x.db")
    assert settings.server.port == 8123 and settings.server.workers == 3 and settings.server.db == "x.db"
    assert settings.camera("front").watchlist == "vip" and settings.watchlists["vip"].threshold == 0.5
    public = json.dumps(settings.public())
    assert "secret" not in public and "hunter2" not in public and "rtsp://***@10.0.0.5/stream1" in public


@pytest.mark.parametrize("text, message", [
    ("[server]\nport = 'eighty'", "server.port"),
    ("[server]\nprot = 80", "server.prot"),
    ("[[cameras]]\nid = 'a'\nsource = 0\n[[cameras]]\nid = 'a'\nsource = 1", "used twice"),
    ("[[cameras]]\nid = 'a b'\nsource = 0", "cameras.0.id"),
    ("[[cameras]]\nid = 'a'\nsource = 0\nwatchlist = 'vip'", "[watchlists.vip]"),
    ("[server\n", "not valid TOML"),
])
def test_bad_settings_are_one_clear_error(tmp_path, text, message):
    with pytest.raises(BadInputError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_settings(write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_keys_cli_create_list_revoke(tmp_path, capsys, isolated_env):
    db = str(tmp_path / "keys.db")
    assert run_cli(["keys", "create", "door-1", "--role", "device", "--db", db, "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert set(made) == {"name", "role", "key"} and made["role"] == "device" and made["key"].startswith("flk_")
    assert run_cli(["keys", "create", "door-1", "--role", "device", "--db", db]) == 9  # conflict
    assert run_cli(["keys", "create", "x", "--role", "root", "--db", db]) == 2
    assert run_cli(["keys", "create", "plain", "--role", "viewer", "--db", db]) == 0
    shown = capsys.readouterr()
    assert shown.out.strip().startswith("flk_") and "shown only this once" in shown.err
    assert run_cli(["keys", "list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["keys"]
    assert [k["name"] for k in listed] == ["door-1", "plain"] and all("key" not in k for k in listed)
    assert made["key"] not in (tmp_path / "keys.db").read_bytes().decode("latin-1")  # only the hash is stored
    assert run_cli(["keys", "revoke", "door-1", "--db", db]) == 0
    assert run_cli(["keys", "revoke", "door-1", "--db", db]) == 8  # not found any more
    from facelens.gallery import Gallery
    from facelens.server.auth import KeyStore

    with Gallery(db) as gallery:
        store = KeyStore(gallery)
        assert store.authenticate(made["key"]) is None
        assert store.authenticate("flk_" + made["key"][4:-1] + "x") is None


def test_rate_limiter_refills():
    limiter = RateLimiter(per_minute=600, burst=2)  # 10 per second
    assert limiter.acquire("a") is None and limiter.acquire("a") is None
    wait = limiter.acquire("a")
    assert wait is not None and 0 < wait <= 0.1
    assert limiter.acquire("b") is None  # per key
    time.sleep(wait + 0.02)
    assert limiter.acquire("a") is None


def test_work_pool_times_out_and_frees_its_slot_when_the_job_ends():
    async def scenario():
        pool = WorkPool(workers=1, queue=0, timeout=0.1)
        with pytest.raises(ApiError) as timed_out:
            await pool.run(time.sleep, 0.4)
        assert timed_out.value.status == 503 and timed_out.value.code == "timeout"
        with pytest.raises(ApiError) as busy:  # the slow job still holds the only worker
            await pool.run(time.sleep, 0)
        assert busy.value.code == "overloaded" and busy.value.headers == {"Retry-After": "1"}
        await asyncio.sleep(0.5)
        assert await pool.run(sum, [1, 2]) == 3
        pool.close()

    asyncio.run(scenario())


def test_messages_lose_server_paths():
    assert scrub("gallery /srv/facelens/data/people.db is locked") == "gallery people.db is locked"
    assert scrub("x.jpg: not a readable image") == "x.jpg: not a readable image"
