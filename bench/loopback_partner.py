"""A partner endpoint for benchmarks, in a process of its own: waitress on loopback, keeping what it received.

It answers every message 200 (or ``--fail-every N``: every Nth with 503) and keeps,
per message, the idempotency key, the referral id and the version the message
carries; ``GET /received`` returns them in arrival order (``?since=i`` from the
i-th), ``GET /count`` how many. Run ``python bench/loopback_partner.py --port P``.
"""

from __future__ import annotations

import argparse
import json
import threading

import waitress

_received: list[tuple[str, str, int, int]] = []
_lock = threading.Lock()


def app(environ, start_response):
    path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
    if method == "GET":
        with _lock:
            if path == "/count":
                body = json.dumps({"count": len(_received)})
            else:
                since = int((environ.get("QUERY_STRING") or "since=0").split("=")[-1] or 0)
                body = json.dumps(_received[since:])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    message = json.loads(environ["wsgi.input"].read(size))
    key = environ.get("HTTP_IDEMPOTENCY_KEY", "")
    with _lock:
        n = len(_received) + 1
        status = 503 if FAIL_EVERY and n % FAIL_EVERY == 0 else 200
        _received.append((key, message.get("referral_id", ""), int(message.get("version", 0)), status))
    start_response(f"{status} {'OK' if status == 200 else 'Service Unavailable'}",
                   [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


FAIL_EVERY = 0

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--fail-every", type=int, default=0)
    args = parser.parse_args()
    FAIL_EVERY = args.fail_every
    waitress.serve(app, host="127.0.0.1", port=args.port, threads=args.threads, ident="partner",
                   connection_limit=200, _quiet=True)
