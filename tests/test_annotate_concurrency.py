"""Fifty real HTTP clients label at once against a real uvicorn server: the store then holds exactly the
labels they submitted (no loss, no duplicate, no item beyond its k), on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from annotate_helpers import FAST, PASSWORD, fresh_postgres_store, postgres_url, served
from cvalues.annotate.models import Assignment, Label, Submission
from cvalues.annotate.sources import SourceAnswer
from cvalues.annotate.store import Store

CLIENTS = 50
K = 2
PER_CLIENT = 2
#: More slots (ITEMS * K) than the clients label (CLIENTS * PER_CLIENT): with exactly as many, the last
#: client may rightly find only a slot on the item it already labelled (an annotator never labels an
#: item twice), so the test would fail now and then for a correct server.
ITEMS = 60
LABELLED = CLIENTS * PER_CLIENT


def _fill(store: Store) -> None:
    answers = [SourceAnswer(f"q{i:03d}", f"问题{i}", f"回答{i}", "m", "others", "t") for i in range(ITEMS)]
    store.import_answers(answers, "safety", per_item=K)
    for n in range(CLIENTS):
        store.add_user(f"a{n:02d}", "annotator", PASSWORD, hasher=FAST)


def _client_work(base: str, name: str, barrier: threading.Barrier) -> dict[str, str]:
    """Log in, wait for everyone, then label PER_CLIENT items, each submitted twice (a retry)."""
    submitted: dict[str, str] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 303, r.text
        csrf = client.get("/api/me").json()["csrf_token"]
        barrier.wait(timeout=60)
        for i in range(PER_CLIENT):
            item = client.get("/api/next/safety").json()["item"]
            assert item is not None, f"{name} found no item on round {i}"
            uid = item["answers"][0]["uid"]
            label = "safe" if hashlib.sha256(f"{name}{uid}".encode()).digest()[0] % 2 else "unsafe"
            body = {
                "submission_id": f"{name}-{i}",
                "item": item["id"],
                "labels": [{"answer": uid, "label": label}],
            }
            for attempt in range(2):
                r = client.post("/api/labels", json=body, headers={"X-CSRF-Token": csrf})
                assert r.status_code == 200, r.text
                assert r.json()["duplicate"] is (attempt == 1)
            submitted[uid] = label
    return submitted


def _run_clients(store: Store) -> None:
    _fill(store)
    barrier = threading.Barrier(CLIENTS)
    with served(store) as base, ThreadPoolExecutor(CLIENTS) as pool:
        futures = {f"a{n:02d}": pool.submit(_client_work, base, f"a{n:02d}", barrier) for n in range(CLIENTS)}
        expected = {(name, uid): label for name, f in futures.items() for uid, label in f.result().items()}
    assert len(expected) == LABELLED
    with store.read() as s:
        names = {u.id: u.name for u in store.users()}
        uids = {a.id: a.uid for _, a in store.answers_table()}
        stored = {(names[lab.user_id], uids[lab.answer_pk]): lab.label for lab in s.query(Label).all()}
        assert s.query(Submission).count() == LABELLED
        per_item: dict[int, int] = {}
        for a in s.query(Assignment).all():
            per_item[a.item_pk] = per_item.get(a.item_pk, 0) + 1
    assert stored == expected
    assert max(per_item.values()) <= K and sum(per_item.values()) == LABELLED  # no item beyond its k
    assert len(store.audit(limit=10_000)) == LABELLED


@pytest.mark.slow
def test_fifty_clients_sqlite(tmp_path: Path) -> None:
    store = Store(tmp_path / "busy.db", create=True)
    try:
        _run_clients(store)
    finally:
        store.close()


@pytest.mark.slow
def test_fifty_clients_postgres() -> None:
    url = postgres_url()
    if not url:
        pytest.skip("CVALUES_TEST_POSTGRES_URL is not set")
    store, _, drop = fresh_postgres_store(url)
    try:
        _run_clients(store)
    finally:
        drop()
