"""Server-sent events for a prediction (Cog 0.22's `Accept:
text/event-stream` on POST /predictions and PUT /predictions/{id}): `event:
NAME` and `data: JSON` per event, the stream ending with `completed`."""

import json
from typing import Any

KEEPALIVE_S = 15.0


def _event(name: str, data: Any) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return ("event: %s\ndata: %s\n\n" % (name, text)).encode("utf-8")


def sse_stream(handler: Any, job: Any) -> None:
    """Send job's events on handler's connection until `completed` (or the
    server stops).  A subscriber that comes late replays what the history
    kept; if events were dropped from it, an `error` event ends the stream."""
    i, skipped = job.sse.subscribe()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    out = handler.wfile
    if skipped:
        out.write(_event("error", {"error": "SSE stream replay truncated; events were dropped",
                                   "skipped": skipped}))
        out.flush()
        return
    idle = 0.0
    while True:
        ev = job.sse.wait(i, 0.5)
        if ev is None:
            if handler.app.runner.shutdown.is_set():
                return
            idle += 0.5
            if idle >= KEEPALIVE_S:
                out.write(b":keep-alive\n\n")
                out.flush()
                idle = 0.0
            continue
        idle = 0.0
        out.write(_event(*ev))
        out.flush()
        i += 1
        if ev[0] == "completed":
            return
