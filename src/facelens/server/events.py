"""One fan-out of server events to Server-Sent Events, MQTT and webhooks.

An ``Event`` is an alert (a camera recognised someone, or an unknown person), a review of an
alert, or a camera changing state. ``EventBus.publish`` hands it to every sink; a sink never
blocks the caller for long (SSE: a bounded queue per listener, oldest dropped; MQTT: paho's
own network thread; webhooks: ``video.alerts.WebhookSink``'s thread with retry, back-off and
a dead-letter file) and a failing sink never stops the others.

MQTT topics (``topic_prefix`` = "facelens" by default):
  facelens/status                      "online" / "offline" (retained; last will)
  facelens/alerts                      every alert (JSON, no snapshot)
  facelens/matches/<identity>          alerts that named <identity>
  facelens/cameras/<camera>            camera state (retained JSON: state, frames, alerts, error)
  facelens/cameras/<camera>/last_match the latest match on that camera (retained)
  facelens/reviews                     alert reviews
Home Assistant discovery (``discovery = true``): per camera a ``sensor`` (last match) and a
``binary_sensor`` (running), under ``homeassistant/<component>/facelens_<camera>/…/config``.
Names are made topic-safe: anything but letters, digits, ``-``, ``_`` and ``.`` becomes ``_``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

log = logging.getLogger("facelens.server.events")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def topic_safe(name: str) -> str:
    return _UNSAFE.sub("_", name) or "_"


@dataclass(frozen=True)
class Event:
    kind: str  # "alert", "review" or "camera"
    data: dict[str, Any]
    alert: Any = None  # the facelens.video.Alert of an "alert" event (webhooks send it as is)
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"))


class EventSink(Protocol):
    def publish(self, event: Event) -> None: ...

    def close(self) -> None: ...


class EventBus:
    def __init__(self, sinks: Iterable[EventSink] = ()) -> None:
        self.sinks: list[EventSink] = list(sinks)

    def add(self, sink: EventSink) -> None:
        self.sinks.append(sink)

    def publish(self, kind: str, data: dict[str, Any], alert: Any = None) -> Event:
        event = Event(kind, data, alert)
        for sink in self.sinks:
            try:
                sink.publish(event)
            except Exception:  # noqa: BLE001 - one broken sink must not stop the others
                log.exception("event sink %s failed", type(sink).__name__)
        return event

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001
                log.exception("closing event sink %s failed", type(sink).__name__)


class SseBroadcaster:
    """Events to every connected ``GET /api/v1/alerts/stream`` listener (sse-starlette)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_queue: int = 256) -> None:
        self.loop = loop
        self.max_queue = max_queue
        self._listeners: set[asyncio.Queue] = set()
        self._ids = itertools.count(1)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def publish(self, event: Event) -> None:
        if self._listeners:  # called from camera and worker threads: hop onto the loop
            self.loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: Event) -> None:
        message = {"id": str(next(self._ids)), "event": event.kind, "data": json.dumps(event.data)}
        for queue in list(self._listeners):
            if queue.full():  # a slow listener loses its oldest events, never blocks the others
                queue.get_nowait()
            queue.put_nowait(message)

    async def stream(self, kinds: set[str] | None = None) -> AsyncIterator[dict[str, str]]:
        queue: asyncio.Queue = asyncio.Queue(self.max_queue)
        self._listeners.add(queue)
        try:
            while True:
                message = await queue.get()
                if kinds is None or message["event"] in kinds:
                    yield message
        finally:
            self._listeners.discard(queue)

    def close(self) -> None:
        self._listeners.clear()


class WebhookForwarder:
    """Alerts to a webhook through ``facelens.video.alerts.WebhookSink`` (retry + dead letter)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def publish(self, event: Event) -> None:
        if event.kind == "alert" and event.alert is not None:
            self.sink.emit(event.alert)

    def close(self) -> None:
        self.sink.close()


class MqttPublisher:
    """Events to an MQTT broker with paho-mqtt (topics in the module doc). Connects in the
    background and reconnects by itself; events published while disconnected are queued by paho
    (QoS ≥ 1) up to its in-flight limits."""

    def __init__(self, settings: Any, cameras: Iterable[str] = (), version: str = "") -> None:
        import paho.mqtt.client as mqtt

        self.settings = settings
        self.prefix = settings.topic_prefix.rstrip("/")
        self.cameras = list(cameras)
        self.version = version
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id)
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        self.client.will_set(self.status_topic, "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(settings.host, settings.port, keepalive=30)
        self.client.loop_start()

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/status"

    def camera_topic(self, camera: str) -> str:
        return f"{self.prefix}/cameras/{topic_safe(camera)}"

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        client.publish(self.status_topic, "online", qos=1, retain=True)
        if self.settings.discovery:
            for camera in self.cameras:
                for topic, config in self.discovery(camera):
                    client.publish(topic, json.dumps(config), qos=1, retain=True)
        self.connected.set()

    def discovery(self, camera: str) -> list[tuple[str, dict[str, Any]]]:
        """Home Assistant MQTT discovery messages of one camera."""
        slug = topic_safe(camera).replace(".", "_")
        base = f"{self.settings.discovery_prefix}/{{component}}/facelens_{slug}/{{object}}/config"
        device = {"identifiers": [f"facelens_{slug}"], "name": f"facelens {camera}", "manufacturer": "facelens",
                  "sw_version": self.version}
        common = {"availability_topic": self.status_topic, "device": device}
        last_match = {**common, "name": "Last match", "unique_id": f"facelens_{slug}_last_match",
                      "state_topic": f"{self.camera_topic(camera)}/last_match",
                      "value_template": "{{ value_json.identity }}",
                      "json_attributes_topic": f"{self.camera_topic(camera)}/last_match",
                      "icon": "mdi:face-recognition"}
        running = {**common, "name": "Running", "unique_id": f"facelens_{slug}_running",
                   "state_topic": self.camera_topic(camera), "device_class": "running",
                   "value_template": "{{ 'ON' if value_json.state == 'running' else 'OFF' }}"}
        return [(base.format(component="sensor", object="last_match"), last_match),
                (base.format(component="binary_sensor", object="running"), running)]

    def publish(self, event: Event) -> None:
        qos = self.settings.qos
        body = json.dumps(event.data)
        if event.kind == "alert":
            self.client.publish(f"{self.prefix}/alerts", body, qos=qos)
            identity, camera = event.data.get("identity"), event.data.get("camera_id")
            if identity:
                self.client.publish(f"{self.prefix}/matches/{topic_safe(identity)}", body, qos=qos)
                if camera:
                    self.client.publish(f"{self.camera_topic(camera)}/last_match", body, qos=qos, retain=True)
        elif event.kind == "camera":
            self.client.publish(self.camera_topic(event.data["id"]), body, qos=qos, retain=True)
        elif event.kind == "review":
            self.client.publish(f"{self.prefix}/reviews", body, qos=qos)

    def close(self) -> None:
        try:
            if self.connected.is_set():
                self.client.publish(self.status_topic, "offline", qos=1, retain=True).wait_for_publish(2)
            self.client.disconnect()
        finally:
            self.client.loop_stop()
