#!/usr/bin/env python3
"""Webhooks under load: what the dispatcher sustains, and what the outbox costs a write.

1. Dispatcher: N messages are queued for one subscription at once (N events of N
   resources, written straight into the outbox tables), and the time until the last is
   acknowledged gives events per second. Baseline, same run: the same receiver taking the
   same body from 64 plain client threads, as many as the dispatcher's attempts on their way
   (the receiver's own ceiling).
2. Outbox cost: the same rectification workload (create, progress, submit; K clients) on a
   fresh database without any subscription, then with a subscriber of
   `rectification.submitted` (one outbox event and message per submit) whose deliveries are
   held back (the outbox rows alone), then delivered meanwhile (rows and dispatcher).
   Reported as ratios of throughputs.

    python3 bench/webhook_load.py [--binary target/release/pingyi] [--backend sqlite|postgres]
                                  [--events 5000] [--items 300] [--clients 8]

Only the standard library (psql for PostgreSQL). Talks only to 127.0.0.1.
"""

import argparse
import http.client
import http.server
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time

from kill_under_load import ADMIN_PASSWORD, PG_ADMIN, Api, Server, free_port


class Receiver:
    def __init__(self):
        self.up = True
        self.acknowledged = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if not receiver.up:
                    self.send_response(503)
                else:
                    with receiver.lock:
                        receiver.acknowledged += 1
                    self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        # A listen backlog of 5 (the default) drops the dispatcher's parallel connections.
        http.server.ThreadingHTTPServer.request_queue_size = 256
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/pingyi"


def run_sql(backend, target, sql):
    if backend == "sqlite":
        with sqlite3.connect(target, timeout=30) as db:
            db.executescript(sql)
    else:
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", target], input=sql, text=True, check=True)


def count(backend, target, sql):
    if backend == "sqlite":
        with sqlite3.connect(target, timeout=30) as db:
            return db.execute(sql).fetchone()[0]
    out = subprocess.run(["psql", "-At", target, "-c", sql], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


class Database:
    def __init__(self, backend, name):
        self.backend = backend
        self.workdir = tempfile.mkdtemp(prefix="webhook-load-")
        if backend == "sqlite":
            self.target = os.path.join(self.workdir, "pingyi.db")
            self.url = "sqlite://" + self.target
            self.pg_name = None
        else:
            self.pg_name = f"pingyi_hookload_{os.getpid()}_{name}"
            subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"CREATE DATABASE {self.pg_name}"], check=True)
            self.url = self.target = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.pg_name

    def drop(self):
        if self.pg_name:
            subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"DROP DATABASE IF EXISTS {self.pg_name} WITH (FORCE)"])


def sign_in(api):
    api.token = api.call("POST", "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})["access_token"]


def campaign_over_a_branch(api):
    district = api.call("POST", "/orgs", {"name": "压测区委", "kind": "committee", "domain": "institution"})
    branch = api.call("POST", "/orgs", {"name": "压测党支部", "kind": "branch", "domain": "institution", "parent_id": district["id"]})
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 40 * 86400))
    campaign = api.call("POST", "/campaigns", {"owner_org_id": district["id"], "title": "压测", "starts_on": today,
                                              "ends_on": later, "template_id": 1})
    api.call("POST", f"/campaigns/{campaign['id']}/activate", {})
    return district["id"], branch["id"], campaign["id"], later


def dispatcher_rate(binary, backend, events):
    db = Database(backend, "dispatch")
    receiver = Receiver()
    server = Server(binary, db.url, db.workdir)
    try:
        server.start()
        api = Api(server.port)
        sign_in(api)
        district, _, _, _ = campaign_over_a_branch(api)
        hook = api.call("POST", "/webhooks", {"url": receiver.url, "events": ["session.closed"], "org_id": district})
        body = json.dumps({"type": "session.closed", "timestamp": "2026-12-01T00:00:00Z",
                           "data": {"session_id": 1, "campaign_id": 1, "org_id": district}})
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        rows_e = ",".join(f"('msg_bench{i:08d}', 'session.closed', {district}, 'session:{i}', NULL, '{body}', '{now}')"
                          for i in range(events))
        rows_m = ",".join(f"({hook['id']}, 'msg_bench{i:08d}', 'session:{i}', 'pending', 0, '{now}', '{now}')"
                          for i in range(events))
        run_sql(backend, db.target,
                f"INSERT INTO webhook_events (id, type, org_id, resource, once_key, payload, created_at) VALUES {rows_e};"
                f"INSERT INTO webhook_messages (webhook_id, event_id, resource, state, attempts, next_attempt_at, created_at) VALUES {rows_m};")
        started = time.perf_counter()
        while count(backend, db.target, "SELECT count(*) FROM webhook_messages WHERE state = 'pending'") > 0:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        delivered = count(backend, db.target, "SELECT count(*) FROM webhook_messages WHERE state = 'delivered'")
        failed_attempts = count(backend, db.target, "SELECT count(*) FROM webhook_deliveries WHERE status_code IS NULL OR status_code >= 300")
        server.stop()
        # The receiver's own ceiling: as many threads as the dispatcher has attempts on their
        # way (64), posting the same body, no server in between.
        per_thread = events // 64
        raw_started = time.perf_counter()

        def post_many():
            conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30)
            for _ in range(per_thread):
                conn.request("POST", "/pingyi", body, {"content-type": "application/json",
                                                      "webhook-id": "msg_x", "webhook-timestamp": "0",
                                                      "webhook-signature": "v1,x"})
                conn.getresponse().read()
            conn.close()

        threads = [threading.Thread(target=post_many) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = per_thread * 64
        raw_rate = total / (time.perf_counter() - raw_started)
        rate = delivered / elapsed
        print(f"{backend} dispatcher: {delivered}/{events} delivered in {elapsed:.2f} s = {rate:.0f} events/s; "
              f"the receiver alone: {raw_rate:.0f} requests/s; ratio {rate / raw_rate:.2f}; "
              f"failed attempts {failed_attempts}")
    finally:
        server.stop()
        receiver.server.shutdown()
        db.drop()


def rectification_throughput(binary, backend, items, clients, subscribe, deliver=True):
    db = Database(backend, ("subscribed" if subscribe else "plain") + ("" if deliver else "_held"))
    # Held: the dispatcher looks once at start, then not for a minute (longer than the run),
    # so the outbox rows are the only difference.
    os.environ["PINGYI_WEBHOOK_POLL_MS"] = "20" if deliver else "60000"
    receiver = Receiver()
    server = Server(binary, db.url, db.workdir)
    try:
        server.start()
        api = Api(server.port)
        sign_in(api)
        district, branch, campaign, due = campaign_over_a_branch(api)
        if subscribe:
            api.call("POST", "/webhooks", {"url": receiver.url, "events": ["rectification.submitted"],
                                           "org_id": district})
        left = [items]
        lock = threading.Lock()

        def client():
            me = Api(server.port)
            me.token = api.token
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                item = me.call("POST", "/rectifications", {"campaign_id": campaign, "org_id": branch,
                                                           "problem": "办事效率低", "due_on": due})
                me.call("POST", f"/rectifications/{item['id']}/progress", {"note": "整改中"})
                me.call("POST", f"/rectifications/{item['id']}/submit", {"note": "已整改"})

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        return items / elapsed, receiver.acknowledged
    finally:
        server.stop()
        receiver.server.shutdown()
        db.drop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/pingyi")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    os.environ.update(PINGYI_WEBHOOK_ALLOWED_HOSTS="127.0.0.1", PINGYI_WEBHOOK_POLL_MS="20",
                      PINGYI_WEBHOOK_RETRY_MS="50")
    dispatcher_rate(args.binary, args.backend, args.events)
    plain, _ = rectification_throughput(args.binary, args.backend, args.items, args.clients, False)
    held, _ = rectification_throughput(args.binary, args.backend, args.items, args.clients, True, False)
    hooked, told = rectification_throughput(args.binary, args.backend, args.items, args.clients, True)
    print(f"{args.backend} outbox cost: {plain:.1f} items/s without a subscriber; with one, "
          f"deliveries held {held:.1f} (ratio {held / plain:.2f}), delivered meanwhile {hooked:.1f} "
          f"(ratio {hooked / plain:.2f}, {told} submissions told during the run)")


if __name__ == "__main__":
    main()
