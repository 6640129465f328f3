"""``camera_workers = "ray"``: a file camera runs in a Ray actor (a local Ray with one CPU, started
by the server) and its alert comes back through the same collector into the server's database.
Skipped where Ray is not installed (``pip install "facelens[video]"``)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from server_support import VIDEO, image, served, wait_until

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason='Ray is not installed (pip install "facelens[video]"): ray camera workers not tested')

CONFIG = f"""
[server]
camera_workers = "ray"
ray_num_cpus = 1

[watchlists.ray]

[[cameras]]
id = "ray-file"
source = "{VIDEO / 'corridor.mp4'}"
location = "corridor"
watchlist = "ray"
autostart = false
detect_every = 2
"""


@needs_ray
def test_a_file_camera_in_a_ray_actor_alerts_into_the_servers_database(tmp_path):
    with served(tmp_path, CONFIG, {"operator": "operator"}) as server:
        with server.client("operator") as op:
            made = op.post("/api/v1/subjects", data={"name": "ray-obama", "metadata": json.dumps({"watchlist": "ray"})},
                           files=[("images", image("obama_obama.jpg", VIDEO / "enrol"))])
            assert made.status_code == 201, made.text
            assert op.post("/api/v1/cameras/ray-file/start").json()["worker"] == "ray"
            running = wait_until(lambda: (c := op.get("/api/v1/cameras/ray-file").json())["pid"] and c, 120, 0.2,
                                 "the camera actor")
            assert running["pid"] != server.process.pid
            wait_until(lambda: op.get("/api/v1/cameras/ray-file").json()["state"] == "finished", 120, 0.3,
                       "the clip to be watched in the actor")
            camera = op.get("/api/v1/cameras/ray-file").json()
            assert camera["frames"] == 120 and camera["alerts"] >= 1 and camera["error"] is None
            alerts = op.get("/api/v1/alerts", params={"camera": "ray-file"}).json()["alerts"]
            assert {a["identity"] for a in alerts} == {"ray-obama"} and alerts[0]["has_snapshot"]


def test_ray_asked_for_but_absent_is_a_config_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    from facelens.cli.app import run_cli
    from facelens.errors import BadInputError
    from facelens.server import config

    monkeypatch.setattr(config, "_ray_importable", lambda: False)
    path = tmp_path / "facelens.toml"
    path.write_text('[server]\ncamera_workers = "ray"\n')
    with pytest.raises(BadInputError, match='camera_workers = "ray" needs Ray'):
        config.load_settings(path)
    code = run_cli(["serve", "--config", str(path), "--db", str(tmp_path / "g.db")])
    err = capsys.readouterr().err
    assert code == 2 and "needs Ray" in err and "Traceback" not in err
    path.write_text('[server]\ncamera_workers = "fibers"\n')
    with pytest.raises(BadInputError, match="server.camera_workers"):
        config.load_settings(path)
