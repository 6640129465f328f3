// The server's live events (GET /api/v1/alerts/stream: Server-Sent Events "alert", "review",
// "camera"). The browser's EventSource cannot send X-API-Key, and a key in the URL would end up
// in access logs, so the stream is read with fetch by @microsoft/fetch-event-source, which also
// reconnects (with Last-Event-ID) after a network drop.
import { apiUrl, authHeaders } from "./api.js";
import { fetchEventSource } from "../vendor/fetch-event-source/fetch.js";

const RETRY_MS = 3000;

// subscribe(["alert", "review"], {alert: (data) => ..., review: ...}, onState) → stop()
export function subscribe(kinds, handlers, onState = () => {}) {
  const controller = new AbortController();
  fetchEventSource(apiUrl("/alerts/stream", { kinds: kinds.join(",") }), {
    headers: authHeaders(),
    signal: controller.signal,
    openWhenHidden: true, // an alert must not wait for the operator to look at the tab
    async onopen(response) {
      if (!response.ok) throw Object.assign(new Error(`event stream: HTTP ${response.status}`), { status: response.status });
      onState("live");
    },
    onmessage(message) {
      const handler = handlers[message.event];
      if (!handler || !message.data) return; // pings and kinds nobody asked for
      handler(JSON.parse(message.data));
    },
    onerror(error) {
      if (error?.status === 401 || error?.status === 403) throw error; // retrying cannot help
      onState("reconnecting");
      return RETRY_MS; // keep trying: the feed is the point of the page
    },
  }).catch(() => onState("offline"));
  const stop = () => controller.abort();
  addEventListener("pagehide", stop);
  return stop;
}
