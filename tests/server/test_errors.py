"""Bad input and faults over HTTP: each gets its status and the JSON body {"error", "code"} —
never a traceback, never a server path. Rate limit and queue back-pressure run on a second
server with tiny limits."""

from __future__ import annotations

import asyncio
import io
import json

import httpx
import pytest
from server_support import FACES, image, served
from PIL import Image

LIMITS_CONFIG = """
[server]
workers = 1
queue = 0
rate_per_minute = 60
rate_burst = 3
keep_face_images = false
"""


def assert_error(response: httpx.Response, status: int, code: str, server=None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "code"} and body["code"] == code, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    if server is not None:
        assert str(server.folder) not in response.text and "/tmp/" not in response.text
    return body


def test_oversized_upload_is_413_from_content_length(server, viewer):
    big = b"\xff\xd8" + b"\0" * (2 * 1024 * 1024)  # 2 MiB, the limit is 1 MiB
    response = viewer.post("/api/v1/detect", files={"image": ("big.jpg", big, "image/jpeg")})
    body = assert_error(response, 413, "payload_too_large", server)
    assert "1,048,576" in body["error"]


def test_oversized_chunked_upload_is_413_before_the_end(server, viewer):
    sent = 0

    def chunks():  # no Content-Length: the server must count as it reads
        nonlocal sent
        yield b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\"\r\n" \
              b"Content-Type: image/jpeg\r\n\r\n"
        for _ in range(64):
            sent += 64 * 1024
            yield b"\0" * (64 * 1024)
        yield b"\r\n--b--\r\n"

    response = viewer.post("/api/v1/detect", content=chunks(),
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error(response, 413, "payload_too_large", server)


def test_truncated_image_is_400(server, viewer):
    data = (FACES / "obama.jpg").read_bytes()
    response = viewer.post("/api/v1/detect", files={"image": ("cut.jpg", data[: len(data) // 3], "image/jpeg")})
    body = assert_error(response, 400, "bad_input", server)
    assert "truncated" in body["error"]


def test_not_an_image_is_400(server, viewer):
    response = viewer.post("/api/v1/identify", files={"image": ("x.jpg", b"not an image", "image/jpeg")})
    assert "not a readable image" in assert_error(response, 400, "bad_input", server)["error"]


def test_wrong_content_type_is_415(server, viewer, operator):
    assert_error(viewer.post("/api/v1/detect", json={"image": "x"}), 415, "unsupported_media_type", server)
    text_part = viewer.post("/api/v1/detect", files={"image": ("notes.txt", b"hello", "text/plain")})
    assert "an image is expected" in assert_error(text_part, 415, "unsupported_media_type", server)["error"]
    form_to_json = operator.post("/api/v1/alerts/x/review", data={"status": "confirmed"})
    assert_error(form_to_json, 415, "unsupported_media_type", server)


def test_malformed_bodies_are_400(server, viewer, admin):
    garbage = viewer.post("/api/v1/detect", content=b"--zz\r\nthis is not multipart\r\n",
                          headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert_error(garbage, 400, "bad_request", server)
    no_boundary = viewer.post("/api/v1/detect", content=b"abc", headers={"Content-Type": "multipart/form-data"})
    assert_error(no_boundary, 400, "bad_request", server)
    bad_json = admin.post("/api/v1/keys", content=b"{name:", headers={"Content-Type": "application/json"})
    assert_error(bad_json, 400, "bad_request", server)


def test_missing_fields_are_422(server, viewer, admin):
    assert_error(viewer.post("/api/v1/verify", files={"a": image("obama.jpg")}), 422, "validation", server)
    assert_error(admin.post("/api/v1/keys", json={"name": "only-a-name"}), 422, "validation", server)


def test_unknown_subject_is_404_and_duplicate_is_409(server, operator, viewer):
    assert_error(viewer.get("/api/v1/subjects/nobody-at-all"), 404, "not_found", server)
    assert_error(operator.delete("/api/v1/subjects/nobody-at-all"), 404, "not_found", server)
    files = [("images", image("biden.jpg"))]
    assert operator.post("/api/v1/subjects", data={"name": "dup-biden"}, files=files).status_code == 201
    body = assert_error(operator.post("/api/v1/subjects", data={"name": "dup-biden"}, files=files), 409, "conflict")
    assert "already exists" in body["error"]


def test_no_face_and_several_faces_are_422(server, operator):
    buffer = io.BytesIO()
    Image.open(FACES / "bbt1.jpg").crop((0, 450, 1366, 768)).save(buffer, format="PNG")  # floor, no face
    faceless = operator.post("/api/v1/subjects", data={"name": "faceless"},
                             files=[("images", ("floor.png", buffer.getvalue(), "image/png"))])
    assert_error(faceless, 422, "no_face", server)
    crowd = operator.post("/api/v1/subjects", data={"name": "crowd"}, files=[("images", image("bbt4.jpg"))])
    assert_error(crowd, 422, "multiple_faces", server)
    assert operator.get("/api/v1/subjects/crowd").status_code == 404  # nothing half-written


def test_unknown_route_and_method(server, viewer):
    assert_error(viewer.get("/api/v1/no-such-route"), 404, "not_found")
    assert_error(viewer.put("/api/v1/subjects"), 405, "method_not_allowed")


# ---------------------------------------------------------------- rate limit and full queue


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    with served(tmp_path_factory.mktemp("limited"), LIMITS_CONFIG,
                {"rate": "viewer", "queue": "viewer", "health": "viewer", "keeper": "operator"}) as running:
        yield running


def test_rate_limit_is_429_with_retry_after(limited):
    with limited.client("rate") as client:
        statuses = [client.get("/api/v1/subjects") for _ in range(6)]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, [r.status_code for r in statuses]
    assert_error(refused[0], 429, "rate_limited", limited)
    assert int(refused[0].headers["Retry-After"]) >= 1
    with limited.client("health") as other:  # the limit is per key
        assert other.get("/api/v1/subjects").status_code == 200


def test_full_queue_is_503_with_retry_after(limited):
    async def burst() -> list[httpx.Response]:
        headers = {"X-API-Key": limited.keys["queue"]}
        async with httpx.AsyncClient(base_url=limited.base, headers=headers, timeout=60) as client:
            # a six-face analysis keeps the one worker busy while the others arrive; without
            # that head start a fast machine may answer each request before the next one comes
            first = asyncio.create_task(client.post("/api/v1/analyze", files={"image": image("bbt4.jpg")}))
            await asyncio.sleep(0.05)
            later = [client.post("/api/v1/detect", files={"image": image("bbt4.jpg")}) for _ in range(2)]
            return [await first, *await asyncio.gather(*later)]

    responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert 200 in statuses and 503 in statuses, statuses
    refused = next(r for r in responses if r.status_code == 503)
    assert_error(refused, 503, "overloaded", limited)
    assert refused.headers["Retry-After"] == "1"
    done = next(r for r in responses if r.status_code == 200)
    assert len(done.json()["faces"]) == 6
    health = httpx.get(f"{limited.base}/health").json()
    assert health["queue"]["refused"] >= 1 and health["queue"]["capacity"] == 1


def test_settings_hide_secrets_and_limits_are_reported(limited):
    with limited.client("health") as viewer:
        assert viewer.get("/api/v1/settings").status_code == 403
    health = httpx.get(f"{limited.base}/health").json()
    assert health["status"] == "ok" and health["database"]["ok"] and health["cameras"] == []
    assert json.dumps(health).find(str(limited.folder)) == -1


def test_a_server_that_keeps_no_face_images_refuses_to_keep_one(limited):
    with limited.client("keeper") as operator:
        asked = operator.post("/api/v1/subjects", data={"name": "kept", "keep_images": "true"},
                              files={"images": image("obama.jpg")})
        assert_error(asked, 400, "bad_input", limited)
        assert "keep_face_images = false" in asked.json()["error"]
        assert operator.post("/api/v1/subjects", data={"name": "kept"}, files={"images": image("obama.jpg")}).status_code == 201
        assert operator.get("/api/v1/subjects/kept/thumbnail.jpg").status_code == 404
