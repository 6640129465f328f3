"""The server's TOML file → typed settings (pydantic: unknown keys and bad values are refused).

    [server]                       # every key optional; command-line flags win over these
    db = "/var/lib/facelens/people.db"   # or postgresql://user@host/facelens
    workers = 2                    # recognition threads; queue = requests allowed to wait
    queue = 16
    max_upload_mb = 10
    rate_per_minute = 600          # per API key (burst = rate_burst)
    camera_workers = "threads"     # or "processes" (one per camera), "ray" (a cluster)

    [watchlists.vip]               # identities whose metadata has watchlist=vip
    threshold = 0.45               # optional: the calibrated one otherwise

    [[cameras]]
    id = "front"
    source = "rtsp://user:pass@10.0.0.5/stream1"   # file, image folder, webcam index, or "push"
    location = "front door"
    watchlist = "vip"

    [mqtt]
    host = "127.0.0.1"

    [[webhooks]]
    url = "https://example.org/hook"

    [doors.lab]                    # any facelens.access.Policy field
    liveness = "passive"

docs/service.md has every key. Secrets (MQTT password) can come from the environment
(``FACELENS_MQTT_PASSWORD``) instead of the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..constants import DEFAULT_DETECTOR, DEFAULT_MODEL
from ..errors import BadInputError

MB = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    db: str | None = None  # None: $FACELENS_DB or the data dir's gallery.db
    cors_origins: list[str] = []  # CORS off unless origins are listed
    workers: int = Field(2, ge=1, le=64)
    queue: int = Field(16, ge=0, le=10_000)
    request_timeout_s: float = Field(30.0, gt=0)
    max_upload_mb: float = Field(10.0, gt=0, le=512)
    rate_per_minute: float = Field(600.0, gt=0)
    rate_burst: int = Field(60, ge=1)
    key_cache_s: float = Field(10.0, ge=0)  # a key revoked by another process stops within this
    model: str = DEFAULT_MODEL
    detector: str = DEFAULT_DETECTOR
    # Keep each enrolled face's crop (AES-GCM sealed with the gallery key, erased with the
    # person) so operators can see who is enrolled and compare an alert with the person it
    # named. false: never kept, and an enrolment asking for it is refused. docs/service.md.
    keep_face_images: bool = True
    # Where cameras run: "threads" (one per camera, in the server), "processes" (one OS process
    # per camera on this machine) or "ray" (one Ray actor per camera; pip install "facelens[video]").
    # daemon.py and docs/service.md (measured) say when to pick which.
    camera_workers: Literal["threads", "processes", "ray"] = "threads"
    ray_address: str | None = None  # None: a local Ray; "auto" or ray://HEAD:10001 for a cluster
    ray_cpus_per_camera: float = Field(1.0, gt=0, le=64)
    ray_num_cpus: int | None = Field(None, ge=1)  # a local Ray: the CPUs it may use (None: all)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)


class WatchlistSettings(_Strict):
    threshold: float | None = Field(None, ge=-1, le=1)
    report_unknown: bool = False
    # keep unknown people's faces (their track's embedding, sealed) for GET /unknowns/clusters;
    # with report_unknown, the unknown alert's snapshot becomes the face's picture
    record_unknowns: bool = False
    cooldown_s: float = Field(30.0, ge=0)
    everyone: bool = False  # true: every gallery identity, not only metadata watchlist=<name>


class CameraSettings(_Strict):
    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    source: str | int  # URL, file, image folder, webcam index, or "push" (frames POSTed by a device)
    location: str | None = None
    watchlist: str | None = None  # a [watchlists.NAME]; None: everyone in the gallery
    autostart: bool = True
    detect_every: int | None = Field(None, ge=1)
    max_width: int | None = Field(None, ge=64)
    loop: bool = False  # files and folders: start again at the end (demos, soak tests)
    happiness: bool = False  # store expression observations of this camera's people
    backoff_s: float = Field(1.0, gt=0)  # first wait before reopening a dead camera, doubled up to:
    max_backoff_s: float = Field(60.0, gt=0)
    push_queue: int = Field(8, ge=1, le=1000)  # frames a "push" camera holds before 503

    @property
    def is_push(self) -> bool:
        return self.source == "push"


class MqttSettings(_Strict):
    host: str
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None  # or FACELENS_MQTT_PASSWORD
    client_id: str = "facelens"
    topic_prefix: str = "facelens"
    discovery: bool = True  # Home Assistant MQTT discovery
    discovery_prefix: str = "homeassistant"
    qos: Literal[0, 1, 2] = 1


class WebhookSettings(_Strict):
    url: str = Field(pattern=r"^https?://")
    dead_letter: str = "alerts.dead-letter.jsonl"
    attempts: int = Field(5, ge=1)
    include_snapshot: bool = False


class Settings(_Strict):
    server: ServerSettings = ServerSettings()
    watchlists: dict[str, WatchlistSettings] = {}
    cameras: list[CameraSettings] = []
    mqtt: MqttSettings | None = None
    webhooks: list[WebhookSettings] = []
    doors: dict[str, dict[str, Any]] = {}  # door name → facelens.access.Policy fields

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[CameraSettings]) -> list[CameraSettings]:
        ids = [c.id for c in cameras]
        duplicate = sorted({i for i in ids if ids.count(i) > 1})
        if duplicate:
            raise ValueError(f"camera id {duplicate[0]!r} is used twice")
        return cameras

    def camera(self, camera_id: str) -> CameraSettings | None:
        return next((c for c in self.cameras if c.id == camera_id), None)

    def public(self) -> dict[str, Any]:
        """The settings as JSON without secrets (GET /api/v1/settings)."""
        data = self.model_dump(mode="json")
        if data.get("mqtt") and data["mqtt"].get("password"):
            data["mqtt"]["password"] = "***"
        for camera in data["cameras"]:
            camera["source"] = hide_credentials(camera["source"])
        return data


def hide_credentials(source: Any) -> Any:
    if isinstance(source, str) and "://" in source and "@" in source.split("://", 1)[1]:
        scheme, rest = source.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return source


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (if any), apply ``[server]`` overrides (non-None values) and check it all."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInputError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"config file {path} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise BadInputError(f"config file {path} is not valid TOML: {exc}") from None
    server = dict(data.get("server", {}))
    server.update({k: v for k, v in overrides.items() if v is not None})
    data["server"] = server
    mqtt = data.get("mqtt")
    if isinstance(mqtt, dict) and not mqtt.get("password") and os.environ.get("FACELENS_MQTT_PASSWORD"):
        mqtt["password"] = os.environ["FACELENS_MQTT_PASSWORD"]
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise BadInputError(f"config {path or '(flags)'}: {problems}") from None
    unknown = sorted({c.watchlist for c in settings.cameras if c.watchlist} - set(settings.watchlists))
    if unknown:
        raise BadInputError(f"config {path}: camera watchlist {unknown[0]!r} has no [watchlists.{unknown[0]}] table")
    if settings.server.camera_workers == "ray" and not _ray_importable():
        raise BadInputError(f'config {path or "(flags)"}: camera_workers = "ray" needs Ray, which is not installed '
                            '(pip install "facelens[video]", or choose "threads" or "processes")')
    return settings


def _ray_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None
