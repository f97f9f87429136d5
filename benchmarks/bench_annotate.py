"""Label submissions per second through the annotation web app, with many clients at once.

A lab's annotators submit a few labels a minute each, so the goal is headroom, not speed: hundreds of
clients' worth of submissions per second on one core, and no lost or duplicated label (checked here
as in tests/test_annotate_concurrency.py). Starts the app with uvicorn on a free 127.0.0.1 port over a
fresh store (SQLite in a temporary folder, or PostgreSQL with ``--postgres URL``: tables are created
in a new schema and dropped afterwards), logs in ``--clients`` annotators and has each label
``--per-client`` items, every submission sent twice (a retry). Prints submissions/s and p50/p95 latency.

    .venv/bin/python benchmarks/bench_annotate.py [--clients 50] [--per-client 10] [--postgres URL]
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
import uvicorn
from argon2 import PasswordHasher

from cvalues.annotate.app import create_app
from cvalues.annotate.sources import SourceAnswer
from cvalues.annotate.store import Store

PASSWORD = "benchmark password"


def run(store: Store, clients: int, per_client: int) -> None:
    answers = [
        SourceAnswer(f"q{i}", f"问题{i}", f"回答{i}", "m", "others", "bench")
        for i in range(clients * per_client)
    ]
    store.import_answers(answers, "safety", per_item=1)
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    for n in range(clients):
        store.add_user(f"b{n}", "annotator", PASSWORD, hasher=fast)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store), log_level="warning", limit_concurrency=1000))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    barrier = threading.Barrier(clients)

    def work(name: str) -> int:
        with httpx.Client(base_url=base, timeout=120) as c:
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
            csrf = c.get("/api/me").json()["csrf_token"]
            barrier.wait()
            for i in range(per_client):
                item = c.get("/api/next/safety").json()["item"]
                body = {
                    "submission_id": f"{name}-{i}",
                    "item": item["id"],
                    "labels": [{"answer": item["answers"][0]["uid"], "label": "safe"}],
                }
                for _ in range(2):
                    t0 = time.perf_counter()
                    c.post("/api/labels", json=body, headers={"X-CSRF-Token": csrf}).raise_for_status()
                    latencies.append(time.perf_counter() - t0)
        return per_client

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(work, [f"b{n}" for n in range(clients)]))
    elapsed = time.perf_counter() - t0
    server.should_exit = True
    thread.join()
    stored = store.progress()["safety"]["labels"]
    latencies.sort()
    print(f"{store.display_url.split('?')[0]}: {clients} clients x {per_client} items, each sent twice")
    print(f"  {2 * total / elapsed:.0f} submissions/s ({elapsed:.1f}s incl. fetching items)")
    print(
        f"  latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms"
    )
    print(f"  labels stored {stored} of {total} submitted: {'OK' if stored == total else 'MISMATCH'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--postgres", default=None, help="postgresql+psycopg://... to measure PostgreSQL too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "bench.db", create=True) as store:
            run(store, args.clients, args.per_client)
    if args.postgres:
        schema = "annotate_bench_" + uuid.uuid4().hex[:8]
        admin = sa.create_engine(args.postgres)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in args.postgres else "?"
            with Store(f"{args.postgres}{sep}options=-csearch_path%3D{schema}", create=True) as store:
                run(store, args.clients, args.per_client)
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
