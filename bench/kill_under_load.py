#!/usr/bin/env python3
"""kill -9 under load: no acknowledged ballot is lost, and used codes = stored ballots.

Starts the release binary on a fresh database, opens a session with many codes, lets
parallel clients cast ballots, kills the server with SIGKILL in the middle of the burst,
starts it again on the same database and checks, through the public API and in storage:

- every ballot the server acknowledged (201) is kept: casting its code again answers
  409 `code_used`;
- every code marked used has its ballot: used codes = stored ballots.

    python3 bench/kill_under_load.py [--binary target/release/pingyi]
                                     [--backend sqlite|postgres|both] [--rounds 3]

Only the standard library; PostgreSQL is reached with psql. Talks only to 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ADMIN_PASSWORD = "kill-under-load-admin-password"
# Random per run, kept across the restart (the codes' hashes depend on the code key).
JWT_KEY = os.urandom(24).hex()
CODE_KEY = os.urandom(24).hex()
PG_ADMIN = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, port):
        self.port = port
        self.token = None

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        conn.request(method, "/api/v1" + path, json.dumps(body) if body is not None else None, headers)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        if res.status not in expect:
            raise SystemExit(f"{method} {path}: {res.status} {data[:300]!r}")
        return json.loads(data) if data else None


class Server:
    def __init__(self, binary, database_url, workdir):
        self.binary, self.database_url, self.workdir = binary, database_url, workdir
        self.port = free_port()
        self.process = None

    def start(self):
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            PINGYI_BIND=f"127.0.0.1:{self.port}",
            PINGYI_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PINGYI_JWT_SECRET=JWT_KEY,
            PINGYI_CODE_SECRET=CODE_KEY,
            PINGYI_LOG="warn",
        )
        log = open(os.path.join(self.workdir, "server.log"), "ab")
        self.process = subprocess.Popen([self.binary, "serve"], env=env, stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server did not become ready; see " + self.workdir)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


def set_up(api, codes):
    """A branch with its secretary, an active campaign, an open session with `codes` codes."""
    login = api.call("POST", "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})
    api.token = login["access_token"]
    org = api.call("POST", "/orgs", {"name": "断电测试党支部", "kind": "branch", "domain": "institution"})
    people = [
        api.call("POST", "/people", {"org_id": org["id"], "name": f"党员{i}", "member_type": "full"})
        for i in range(4)
    ]
    api.call("PATCH", f"/orgs/{org['id']}", {"secretary_id": people[0]["id"]})
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))
    campaign = api.call(
        "POST",
        "/campaigns",
        {"owner_org_id": org["id"], "title": "断电测试", "starts_on": today, "ends_on": later, "template_id": 1},
    )
    api.call("POST", f"/campaigns/{campaign['id']}/activate", {})
    session = api.call(
        "POST",
        f"/campaigns/{campaign['id']}/sessions",
        {"org_id": org["id"], "kind": "branch_meeting", "scheduled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    )
    issued = []
    while len(issued) < codes:
        batch = api.call(
            "POST",
            f"/sessions/{session['id']}/voting-codes",
            {"category": "party_member", "count": min(1000, codes - len(issued))},
        )
        issued += batch["codes"]
    api.call("POST", f"/sessions/{session['id']}/open", {})
    form = api.call("POST", "/ballot-forms", {"code": issued[0]})
    ratings = [
        {"subject_id": s["id"], "criterion_id": c["id"], "level": "satisfied"}
        for s in form["subjects"]
        for c in form["criteria"][s["subject_type"]]
    ]
    return issued, ratings


def burst(port, codes, ratings, clients, acknowledged, stop):
    """`clients` threads cast ballots until the codes run out or the server dies."""
    lock = threading.Lock()
    queue = list(codes)

    def client():
        while not stop.is_set():
            with lock:
                if not queue:
                    return
                code = queue.pop()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", "/api/v1/ballots", json.dumps({"code": code, "ratings": ratings}),
                             {"Content-Type": "application/json"})
                res = conn.getresponse()
                res.read()
                conn.close()
            except OSError:
                continue  # the server is gone: this ballot was never acknowledged
            if res.status == 201:
                with lock:
                    acknowledged.append(code)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    return threads


def storage_counts(backend, database_url, db_path):
    sql = ("SELECT (SELECT count(*) FROM ballots), "
           "(SELECT count(*) FROM voting_codes WHERE state = 'used')")
    if backend == "sqlite":
        import sqlite3

        with sqlite3.connect(db_path) as db:
            return tuple(db.execute(sql).fetchone())
    out = subprocess.run(["psql", "-At", "-F", " ", database_url, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return tuple(int(x) for x in out.split())


def one_round(binary, backend, clients, round_no):
    workdir = tempfile.mkdtemp(prefix="kill-under-load-")
    db_path = None
    pg_name = None
    if backend == "sqlite":
        db_path = os.path.join(workdir, "pingyi.db")
        database_url = "sqlite://" + db_path
    else:
        pg_name = f"pingyi_kill_{os.getpid()}_{round_no}"
        subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"CREATE DATABASE {pg_name}"], check=True)
        database_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + pg_name
    server = Server(binary, database_url, workdir)
    try:
        server.start()
        api = Api(server.port)
        codes, ratings = set_up(api, 15000)
        acknowledged, stop = [], threading.Event()
        threads = burst(server.port, codes, ratings, clients, acknowledged, stop)
        # Kill in the middle of the burst, at a moment nobody chose.
        time.sleep(0.8 + random.random())
        server.kill()
        stop.set()
        for t in threads:
            t.join()
        killed_after = len(acknowledged)
        server.port = free_port()
        server.start()
        ballots, used = storage_counts(backend, database_url, db_path)
        api = Api(server.port)
        lost = 0
        for code in acknowledged:
            answer = api.call("POST", "/ballots", {"code": code, "ratings": ratings}, expect=(201, 409))
            if answer is None or answer.get("code") != "code_used":
                lost += 1
        print(f"{backend} round {round_no}: acknowledged {killed_after}, stored {ballots}, "
              f"used codes {used}, acknowledged but lost {lost}")
        ok = lost == 0 and ballots == used and ballots >= killed_after and killed_after > 0
        return ok
    finally:
        server.stop()
        if pg_name:
            subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/pingyi")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    failed = 0
    for backend in backends:
        for round_no in range(1, args.rounds + 1):
            if not one_round(args.binary, backend, args.clients, round_no):
                failed += 1
    print("kill -9 under load:", "FAILED" if failed else "0 acknowledged ballots lost")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
