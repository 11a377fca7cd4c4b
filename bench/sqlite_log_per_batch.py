#!/usr/bin/env python3
"""How much SQLite log one group-commit batch of ballots writes, by storage layout.

Measures the suspect behind the SQLite meeting day's growing p99 (bench/README.md): ballots
and ratings are keyed by a random ballot id, so each ballot of a batch dirties leaf pages of
its own, and a commit writes every dirtied page whole to the write-ahead log. The script
fills the two tables as the ballots schema has them (2,000 sessions, 31 ratings a ballot,
batches of 64, synchronous=FULL), checkpoints before every batch, and reports the log each
commit wrote and its time once the tables hold 12,800 ballots and more. The variants change
one thing each: page size, ids in time order (not allowed: DESIGN.md wants them random, it
is only the floor), a ballot's ratings packed into its own row.

Standard library only; the database lives in a temporary directory.
"""

import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid

BATCH = 64
BATCHES = 400  # measured from batch 200 on: 12,800 ballots already stored
RATINGS_PER_BALLOT = 31
SESSIONS = 2000


def measure(directory, page_size=4096, ordered_ids=False, packed=False):
    path = os.path.join(directory, f"log-{page_size}-{ordered_ids}-{packed}.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size={page_size}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute(
        "CREATE TABLE ballots (id TEXT PRIMARY KEY, session_id BIGINT NOT NULL,"
        " category TEXT NOT NULL, paper BOOLEAN NOT NULL, cast_on DATE NOT NULL,"
        " levels BLOB) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX ballots_session ON ballots (session_id)")
    db.execute(
        "CREATE TABLE ratings (ballot_id TEXT NOT NULL, subject_id BIGINT NOT NULL,"
        " criterion_id BIGINT NOT NULL, level TEXT NOT NULL,"
        " PRIMARY KEY (ballot_id, subject_id, criterion_id)) WITHOUT ROWID"
    )
    cast = 0
    log_bytes, commit_ms = [], []
    for batch in range(BATCHES):
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("BEGIN IMMEDIATE")
        for _ in range(BATCH):
            cast += 1
            ballot = f"{cast:012d}{uuid.uuid4().hex[:24]}" if ordered_ids else str(uuid.uuid4())
            session = random.randrange(SESSIONS)
            levels = bytes(random.randrange(4) for _ in range(RATINGS_PER_BALLOT))
            db.execute(
                "INSERT INTO ballots VALUES (?, ?, 'member', 0, '2026-12-02', ?)",
                (ballot, session, levels if packed else None),
            )
            if not packed:
                db.executemany(
                    "INSERT INTO ratings VALUES (?, ?, ?, 'good')",
                    [(ballot, session * 16 + n // 2, n % 2) for n in range(RATINGS_PER_BALLOT)],
                )
        started = time.perf_counter()
        db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        if batch >= BATCHES // 2:
            log_bytes.append(os.path.getsize(path + "-wal"))
            commit_ms.append(elapsed * 1000)
    db.close()
    return statistics.mean(log_bytes) / 1024, statistics.median(commit_ms)


def main():
    variants = [
        ("4 KiB pages, a row per rating (today)", {}),
        ("2 KiB pages", {"page_size": 2048}),
        ("1 KiB pages", {"page_size": 1024}),
        ("ratings packed in the ballot's row", {"packed": True}),
        ("ids in time order (floor, not allowed)", {"ordered_ids": True}),
    ]
    print(f"| layout | log per batch of {BATCH} | commit p50 |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        for name, options in variants:
            kib, ms = measure(directory, **options)
            print(f"| {name} | {kib:,.0f} KiB | {ms:.1f} ms |")


if __name__ == "__main__":
    main()
