"""The demo's partner exchange: St Mary's status feed, replayed with the week, with something in each queue.

St Mary's discharge desk has a partner system, ``st-marys-feed`` (a webhook,
subscribed as requester), added before the week is replayed so every status
change of its referrals is written to the outbox. Its endpoint is a loopback
server run only while the demo is built, which refuses every `accepted` update
with 400 (a mapping its vendor has not deployed yet) and takes the rest: once the
week is delivered, the accepted updates are one outbound pattern and the later
updates of those referrals wait behind them. The feed is then paused (its view
stale since the first update it missed), the partner reports a snapshot of what
its system shows (a few referrals wrong: reconciliation work items), and two of
St Mary's submissions failed validation (inbound exceptions). Nothing here is
faked: each part goes through the service that does it in production.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mpi.auth import Caller
from mpi.errors import MpiError
from mpi.exchange.inbound_vocab import InboundKind
from mpi.services import Services
from mpi.vocab import Role

PARTNER_ID = "st-marys-feed"
#: St Mary's labels: `redirected` shown as "Declined", as `declined` is (a lossy row).
CROSSWALK = [{"state": "submitted", "label": "Sent"}, {"state": "acknowledged", "label": "Received"},
             {"state": "in_triage", "label": "Received"}, {"state": "accepted", "label": "Scheduled"},
             {"state": "in_progress", "label": "In service"}, {"state": "completed", "label": "Done"},
             {"state": "declined", "label": "Declined"}, {"state": "redirected", "label": "Declined"},
             {"state": "closed_not_served", "label": "Closed"}, {"state": "on_hold", "label": "Waiting"},
             {"state": "expired", "label": "Closed"}, {"state": "cancelled", "label": "Cancelled"}]


class _Feed:
    """St Mary's endpoint while the demo is built: 400 for `accepted`, 200 for the rest."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                status = 400 if body.get("state") == "accepted" else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/closedloop/status"
        self._thread = threading.Thread(target=self.server.serve_forever, name="demo-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self._thread.join(timeout=5)


def add_feed(services: Services, actor: str) -> _Feed:
    """Add St Mary's feed and its crosswalk (in force from a month back), before the week is replayed."""
    feed = _Feed()
    services.partners.add({"partner_id": PARTNER_ID, "organisation": "st-marys",
                           "name": "St Mary's discharge desk feed", "endpoint": feed.url, "format": "webhook",
                           "subscriptions": ["requester"]}, actor)
    since = (services.clock.now() - timedelta(days=30)).date()
    services.partners.add_crosswalk(PARTNER_ID, CROSSWALK, since, actor)
    return feed


def settle(services: Services, feed: _Feed, actor: str, echo: Callable[[str], Any]) -> None:
    """Deliver the week, pause the feed, take its snapshot, and keep two failed submissions."""
    try:
        while services.delivery.run_once():
            pass
    finally:
        feed.close()
    services.outbound.pause(PARTNER_ID, "its endpoint refuses accepted updates (400); the vendor is deploying a fix",
                            actor)
    # What the partner's system shows: each referral's last label it acknowledged (messages are in order).
    latest = {m["referral_id"]: {"referral_id": m["referral_id"], "label": m["label"]}
              for m in services.store.outbox.of_partner(PARTNER_ID) if m["status"] == "acknowledged"}
    rows = list(latest.values())
    for row in rows[:3]:
        row["label"] = "Closed"  # the partner's system closed these on its own: real mismatches
    run = services.reconciliation.receive_json(PARTNER_ID, {"rows": rows}, actor)
    hub = Caller("demo-hub", Role.HUB.value, "st-marys")
    kept = [_keep_refused(services, hub, {"requester": "st-marys", "requester_referral_id": "SM-DEMO-X",
                                          "performer": "foodbank", "service_type": "food",
                                          "urgency": "discharge"}),
            services.inbound.keep(InboundKind.REFERRAL, None, hub, "text/plain", b"MSH|^~\\&|ADT|STMARYS",
                                  "invalid_json", 400, {"body": ["not JSON: an HL7 v2 message sent to the JSON API"]})]
    counts = services.store.outbox.counts()
    echo(f"exchange: St Mary's feed paused ({counts.get('dead', 0)} accepted updates refused, "
         f"{counts.get('queued', 0)} waiting behind them); its snapshot: {run['matched']} matched, "
         f"{run['mismatched']} mismatched; {len([k for k in kept if k])} inbound exceptions kept")


def _keep_refused(services: Services, hub: Caller, body: dict[str, Any]) -> str | None:
    """Submit an incomplete referral as St Mary's hub and keep what the intake refuses, as the API does."""
    try:
        services.referrals.submit(body, hub)
    except MpiError as e:
        return services.inbound.keep(InboundKind.REFERRAL, None, hub, "application/json",
                                     json.dumps(body).encode(), e.code, e.status, e.errors or {})
    return None
