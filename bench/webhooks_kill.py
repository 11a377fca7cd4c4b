#!/usr/bin/env python3
"""kill -9 between commit and delivery: no webhook event is lost.

Starts the release binary with a subscriber on 127.0.0.1 and closes sessions, each close
committing its `session.closed` event, then kills the server with SIGKILL and starts it
again on the same database:

- round "down": the receiver answers 503 while the sessions close, so nothing is delivered
  before the kill; it comes up before the restart;
- round "sending": the receiver answers slowly, and the kill falls while deliveries are on
  their way.

Either way every closed session's event must be acknowledged after the restart, each
signature checked with the README's verifier (at least once: a receiver dedupes on
`webhook-id`).

    python3 bench/webhooks_kill.py [--binary target/release/pingyi]
                                   [--backend sqlite|postgres|both] [--sessions 30]

Only the standard library. Talks only to 127.0.0.1.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

from kill_under_load import ADMIN_PASSWORD, PG_ADMIN, Api, Server, free_port


def verify(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """The README's verifier, as a receiver would paste it."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, sig.split(",", 1)[1])
        for sig in headers["webhook-signature"].split()
        if sig.startswith("v1,")
    )


class Receiver:
    """A subscriber: `mode` is "down" (503), "slow" (204 after 0.8 s, inside the server's
    1 s timeout) or "up" (204)."""

    def __init__(self):
        self.mode = "up"
        self.secret = None
        self.acknowledged = {}  # session id -> webhook-id
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                mode = receiver.mode
                if mode == "down":
                    self.send_response(503)
                    self.end_headers()
                    return
                if mode == "slow":
                    time.sleep(0.8)
                with receiver.lock:
                    if not verify(receiver.secret, headers, body):
                        receiver.bad_signatures += 1
                    event = json.loads(body)
                    receiver.acknowledged[event["data"]["session_id"]] = headers["webhook-id"]
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        # A listen backlog of 5 (the default) drops the dispatcher's parallel connections.
        http.server.ThreadingHTTPServer.request_queue_size = 256
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/pingyi"


def set_up(api, receiver, sessions):
    login = api.call("POST", "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})
    api.token = login["access_token"]
    district = api.call("POST", "/orgs", {"name": "断电测试区委", "kind": "committee", "domain": "institution"})
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))
    campaign = api.call(
        "POST",
        "/campaigns",
        {"owner_org_id": district["id"], "title": "断电测试", "starts_on": today, "ends_on": later, "template_id": 1},
    )
    api.call("POST", f"/campaigns/{campaign['id']}/activate", {})
    hook = api.call("POST", "/webhooks", {"url": receiver.url, "events": ["session.closed"], "org_id": district["id"]})
    receiver.secret = hook["secret"]
    ids = []
    for i in range(sessions):
        branch = api.call("POST", "/orgs", {"name": f"第{i}党支部", "kind": "branch", "domain": "institution", "parent_id": district["id"]})
        session = api.call(
            "POST",
            f"/campaigns/{campaign['id']}/sessions",
            {"org_id": branch["id"], "kind": "branch_meeting",
             "scheduled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        )
        api.call("POST", f"/sessions/{session['id']}/open", {})
        ids.append(session["id"])
    return ids


def one_round(binary, backend, how, sessions):
    workdir = tempfile.mkdtemp(prefix="webhooks-kill-")
    pg_name = None
    if backend == "sqlite":
        database_url = "sqlite://" + os.path.join(workdir, "pingyi.db")
    else:
        pg_name = f"pingyi_hooks_{os.getpid()}_{how}"
        subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"CREATE DATABASE {pg_name}"], check=True)
        database_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + pg_name
    receiver = Receiver()
    server = Server(binary, database_url, workdir)
    try:
        server.start()
        api = Api(server.port)
        ids = set_up(api, receiver, sessions)
        receiver.mode = "down" if how == "down" else "slow"
        for session in ids:
            api.call("POST", f"/sessions/{session}/close", {})
        if how == "sending":
            # While the attempts wait for their answers: their leases bring them back.
            time.sleep(0.2 + random.random() * 0.4)
        before = len(receiver.acknowledged)
        server.kill()
        receiver.mode = "up"
        server.port = free_port()
        server.start()
        deadline = time.time() + 90
        while time.time() < deadline and len(receiver.acknowledged) < len(ids):
            time.sleep(0.2)
        missing = sorted(set(ids) - set(receiver.acknowledged))
        print(f"{backend} {how}: {len(ids)} sessions closed, {before} acknowledged before the kill, "
              f"{len(receiver.acknowledged)} after the restart, lost {len(missing)}, "
              f"bad signatures {receiver.bad_signatures}")
        return not missing and receiver.bad_signatures == 0
    finally:
        server.stop()
        receiver.server.shutdown()
        if pg_name:
            subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/pingyi")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sessions", type=int, default=30)
    args = parser.parse_args()
    os.environ.update(
        PINGYI_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        PINGYI_WEBHOOK_RETRY_MS="100",
        PINGYI_WEBHOOK_TIMEOUT_MS="1000",
        PINGYI_WEBHOOK_POLL_MS="50",
    )
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    failed = sum(
        not one_round(args.binary, backend, how, args.sessions)
        for backend in backends
        for how in ("down", "sending")
    )
    print("webhooks across kill -9:", "FAILED" if failed else "no event lost")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
