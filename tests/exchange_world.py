"""A partner system on loopback for the exchange's tests: a real HTTP server that keeps what it receives.

:class:`Partner` answers each message by its ``answer`` rule (200 unless told
otherwise: a status per message type, say 400 for ``accepted`` while its
endpoint is broken), checks every signature with the partner's secret, and
keeps each message it received with its headers and parsed body. Imported by the
exchange's test modules (with the referral network of ``referral_network.py``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mpi.exchange import messages


class Received(dict):
    """One message as the partner received it: ``method``, ``path``, ``headers``, ``body`` (parsed), ``signed_ok``."""

    @property
    def state(self) -> str:
        body = self["body"]
        if body.get("resourceType") == "Task":
            return next(c["code"] for c in body["businessStatus"]["coding"] if c.get("code"))
        return body["state"]


class Partner:
    """A loopback partner endpoint (``url``); ``answer(received) -> status`` decides each reply (default 200)."""

    def __init__(self, secret: str | None = None, now: Callable[[], float] = time.time):
        self.secret = secret
        #: The partner's clock, against which a signature's timestamp must be fresh (a test's fixed clock).
        self.now = now
        self.received: list[Received] = []
        self.answer: Callable[[Received], int] = lambda r: 200
        self._lock = threading.Lock()
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a partner's server would

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got = Received(method=self.command, path=self.path, headers=dict(self.headers),
                               body=json.loads(raw or b"{}"), raw=raw,
                               signed_ok=partner.secret is not None and messages.verify(
                                   partner.secret, self.headers.get(messages.SIGNATURE_HEADER), raw, partner.now()))
                status = partner.answer(got)
                got["status"] = status
                with partner._lock:
                    partner.received.append(got)
                reply = json.dumps({"ok": status < 300}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_PUT = _handle

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a sender killed mid-request resets its connection
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def accepted(self) -> list[Received]:
        """The messages it answered 2xx, in the order received."""
        with self._lock:
            return [r for r in self.received if r["status"] < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
