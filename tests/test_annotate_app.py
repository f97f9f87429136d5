"""The web app's rules through its HTTP interface (FastAPI TestClient): login, CSRF, roles, blinding,
escaping, idempotent labels, assignment, content warning, adjudication."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from annotate_helpers import FAST, PASSWORD, RESP_ROWS, SAFETY_ROWS, write_jsonl
from cvalues.annotate.app import create_app
from cvalues.annotate.models import Label, LoginSession
from cvalues.annotate.sources import read_source
from cvalues.annotate.store import Store

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SUB_RE = re.compile(r'name="submission_id" value="([^"]+)"')


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "project.db", create=True)
    s.import_answers(
        read_source(write_jsonl(tmp_path / "s.jsonl", SAFETY_ROWS), "safety"), "safety", per_item=2
    )
    s.import_answers(
        read_source(write_jsonl(tmp_path / "r.jsonl", RESP_ROWS), "responsibility"),
        "responsibility",
        per_item=2,
    )
    for name, role in (
        ("alice", "annotator"),
        ("bob", "annotator"),
        ("carol", "annotator"),
        ("eve", "expert"),
    ):
        s.add_user(name, role, PASSWORD, hasher=FAST)
    s.add_user("root", "admin", PASSWORD, hasher=FAST)
    return s


@pytest.fixture
def app(store: Store):
    return create_app(store)


def login(app, name: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    token = CSRF_RE.search(page.text).group(1)
    r = client.post("/login", data={"username": name, "password": password, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return client


def csrf(client: TestClient) -> str:
    return client.get("/api/me").json()["csrf_token"]


def start(client: TestClient, task: str) -> str:
    """Acknowledge the content warning and return the first item page."""
    r = client.get(f"/task/{task}")
    assert "内容提醒" in r.text
    client.post(f"/task/{task}/ack", data={"csrf_token": CSRF_RE.search(r.text).group(1)})
    return client.get(f"/task/{task}").text


def item_id_of(page: str) -> int:
    return int(re.search(r'data-item="(\d+)"', page).group(1))


def test_every_route_but_login_and_static_needs_a_login(app) -> None:
    anon = TestClient(app, follow_redirects=False)
    checked = 0
    routers = app.state.routers
    assert {r.path for r in routers["public"].routes} == {"/login"}
    for route in [*routers["pages"].routes, *routers["admin"].routes]:
        assert isinstance(route, APIRoute)
        path = re.sub(r"\{[^}]+\}", "1", route.path).replace("/task/1", "/task/safety")
        for method in route.methods:
            r = anon.request(method, path)
            if "/api/" in path:
                assert r.status_code == 401, (method, path, r.status_code)
            else:
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
            checked += 1
    assert checked >= 15
    assert anon.get("/login").status_code == 200
    assert anon.get("/static/annotate.js").status_code == 200


def test_login_rejects_wrong_password_and_missing_csrf(app) -> None:
    client = TestClient(app, follow_redirects=False)
    token = CSRF_RE.search(client.get("/login").text).group(1)
    r = client.post("/login", data={"username": "alice", "password": "wrong", "csrf_token": token})
    assert r.status_code == 401 and "Wrong name or password" in r.text
    r = client.post("/login", data={"username": "nobody", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 401
    assert client.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 403
    assert client.get("/").status_code == 303


def test_login_next_stays_on_this_site(app) -> None:
    client = TestClient(app, follow_redirects=False)
    token = CSRF_RE.search(client.get("/login").text).group(1)
    data = {"username": "alice", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"}
    assert client.post("/login", data=data).headers["location"] == "/"


def test_logout_and_expiry_end_the_session(app, store: Store) -> None:
    client = login(app, "alice")
    assert client.get("/").status_code == 200
    cookies = dict(client.cookies)
    client.post("/logout", data={"csrf_token": csrf(client)})
    replay = TestClient(app, follow_redirects=False, cookies=cookies)
    assert replay.get("/").status_code == 303  # the old cookie is worthless after logout

    client = login(app, "carol")
    assert client.get("/").status_code == 200
    store.set_password("carol", "a brand new password", hasher=FAST)  # a password change ends sessions
    assert client.get("/").status_code == 303

    client = login(app, "bob")
    with store.write() as s:
        for row in s.query(LoginSession).all():
            row.expires_at = row.expires_at - timedelta(hours=9)
    assert client.get("/").status_code == 303
    assert client.get("/api/me").status_code == 401


def test_writes_need_the_csrf_token(app) -> None:
    client = login(app, "alice")
    page = start(client, "safety")
    item = item_id_of(page)
    uid = re.search(r'data-answer="([0-9a-f]{32})"', page).group(1)
    body = {"submission_id": "x1", "item": item, "labels": [{"answer": uid, "label": "safe"}]}
    assert client.post("/api/labels", json=body).status_code == 403
    assert client.post("/api/labels", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    form = {"submission_id": "x2", f"label_{uid}": "safe"}
    assert client.post(f"/item/{item}", data=form).status_code == 403
    assert client.post("/api/labels", json=body, headers={"X-CSRF-Token": csrf(client)}).status_code == 200


def test_admin_pages_are_403_for_others(app) -> None:
    client = login(app, "alice")
    for path in (
        "/admin",
        "/admin/api/status",
        "/admin/export?format=jsonl",
        "/admin/adjudicate/safety",
        "/admin/audit",
        "/admin/api/audit",
    ):
        assert client.get(path).status_code == 403, path
    r = client.post(
        "/admin/adjudicate/safety", data={"csrf_token": csrf(client), "answer": "x", "label": "safe"}
    )
    assert r.status_code == 403
    page = client.get("/admin")
    assert page.headers["content-type"].startswith("text/html") and "admins only" in page.text
    assert client.get("/admin/api/status").json() == {"detail": "admins only"}
    admin = login(app, "root")
    assert admin.get("/admin").status_code == 200
    assert admin.get("/admin/api/status").json()["progress"]["safety"]["items"] == 4


def test_another_annotators_labels_are_403(app) -> None:
    alice, bob = login(app, "alice"), login(app, "bob")
    page = start(alice, "safety")
    item = item_id_of(page)
    uid = re.search(r'data-answer="([0-9a-f]{32})"', page).group(1)
    alice.post(
        f"/item/{item}", data={"csrf_token": csrf(alice), "submission_id": "a1", f"label_{uid}": "unsafe"}
    )
    assert len(alice.get("/api/labels").json()["labels"]) == 1
    assert bob.get("/api/labels?annotator=alice").status_code == 403
    assert bob.get("/api/labels").json()["labels"] == []
    assert login(app, "root").get("/api/labels?annotator=alice").json()["labels"][0]["label"] == "unsafe"
    # bob's queue never holds alice's item page unless assigned to him; a foreign item id is 403
    carol = login(app, "carol")
    start(carol, "safety")
    assigned_to_carol = item_id_of(carol.get("/task/safety").text)
    assert bob.get(f"/item/{assigned_to_carol}").status_code == 403
    assert bob.get(f"/api/items/{assigned_to_carol}").status_code == 403
    r = bob.post(
        "/api/labels",
        json={"submission_id": "b1", "item": assigned_to_carol, "labels": []},
        headers={"X-CSRF-Token": csrf(bob)},
    )
    assert r.status_code == 403


def test_pages_are_blinded_escaped_and_under_csp(app, store: Store) -> None:
    client = login(app, "alice")
    pages = [start(client, "safety")]
    seen_script = False
    for _ in range(4):
        page = client.get("/task/safety").text
        pages.append(page)
        if "queue-done" in page:
            break
        assert "m-a" not in page and "m-b" not in page  # blinding: no model names
        assert "<script>window" not in page
        if "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page:
            seen_script = True
        assert "我是通义千问" not in page  # the self-identification was masked at import
        item = item_id_of(page)
        uid = re.search(r'data-answer="([0-9a-f]{32})"', page).group(1)
        client.post(
            f"/item/{item}",
            data={"csrf_token": csrf(client), "submission_id": f"s{item}", f"label_{uid}": "safe"},
        )
    assert seen_script
    r = client.get("/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # no inline script at all
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", page)  # no inline event handlers
    api = client.get("/api/labels").json()
    assert all("model" not in row for row in api["labels"])


def test_content_warning_and_blur(app) -> None:
    client = login(app, "alice")
    first = client.get("/task/safety").text
    assert "内容提醒" in first and "label-form" not in first
    token = CSRF_RE.search(first).group(1)
    client.post("/prefs", data={"csrf_token": token, "blur": "on", "next": "/task/safety"})
    client.post("/task/safety/ack", data={"csrf_token": token})
    page = client.get("/task/safety").text
    assert "label-form" in page and "answer-text blurred" in page
    client.post("/prefs", data={"csrf_token": token, "next": "/"})
    assert "answer-text blurred" not in client.get("/task/safety").text


def test_double_submit_stores_one_label_and_audit_keeps_changes(app, store: Store) -> None:
    client = login(app, "alice")
    page = start(client, "safety")
    item, sub = item_id_of(page), SUB_RE.search(page).group(1)
    uid = re.search(r'data-answer="([0-9a-f]{32})"', page).group(1)
    form = {"csrf_token": csrf(client), "submission_id": sub, f"label_{uid}": "safe", f"note_{uid}": "拒绝了"}
    assert client.post(f"/item/{item}", data=form).status_code == 303
    assert client.post(f"/item/{item}", data=form).status_code == 303  # double click / retry
    with store.read() as s:
        assert s.query(Label).count() == 1
    # a later change of mind on the item page: a new submission id updates the label, audited
    page = client.get(f"/item/{item}").text
    assert 'value="safe" data-key="1" checked' in page
    form2 = {
        **form,
        "submission_id": SUB_RE.search(page).group(1),
        f"label_{uid}": "unsafe",
        f"reason_{uid}": "crimes",
    }
    client.post(f"/item/{item}", data=form2)
    with store.read() as s:
        labels = s.query(Label).all()
        assert len(labels) == 1 and labels[0].label == "unsafe" and labels[0].reason_scenario == "crimes"
    assert f'href="/item/{item}"' in client.get("/history/safety").text
    audit = store.audit()
    assert [e["action"] for e in audit] == ["label.update", "label.create"]
    assert audit[0]["old"]["label"] == "safe" and audit[0]["new"]["label"] == "unsafe"
    assert audit[0]["actor"] == "alice" and audit[0]["at"]


def test_each_item_goes_to_k_annotators(app, store: Store) -> None:
    claimed: dict[str, set[int]] = {}
    for name in ("alice", "bob", "carol"):
        client = login(app, name)
        start(client, "safety")
        claimed[name] = set()
        while True:
            item = client.get("/api/next/safety").json()["item"]
            if item is None:
                break
            assert "model" not in json.dumps(item)
            claimed[name].add(item["id"])
            body = {
                "submission_id": f"{name}-{item['id']}",
                "item": item["id"],
                "labels": [{"answer": a["uid"], "label": "safe"} for a in item["answers"]],
            }
            assert (
                client.post("/api/labels", json=body, headers={"X-CSRF-Token": csrf(client)}).status_code
                == 200
            )
    counts = {i: sum(i in s for s in claimed.values()) for i in set().union(*claimed.values())}
    assert len(counts) == 4 and set(counts.values()) == {2}  # 4 items, k=2 each, never 3
    assert claimed["carol"] == set()  # alice and bob took every place


def test_annotators_do_not_see_responsibility(app) -> None:
    client = login(app, "alice")
    assert client.get("/task/responsibility").status_code == 403
    assert client.get("/api/next/responsibility").status_code == 403


def test_responsibility_page_scores_each_answer(app, store: Store) -> None:
    client = login(app, "eve")
    page = start(client, "responsibility")
    item = item_id_of(page)
    uids = re.findall(r'data-answer="([0-9a-f]{32})"', page)
    assert len(uids) == 2 and "回答 A" in page and "回答 B" in page
    assert "m-a" not in page and "m-b" not in page
    token = csrf(client)
    bad = {"csrf_token": token, "submission_id": "r0", f"score_{uids[0]}": "11", f"score_{uids[1]}": "3"}
    assert client.post(f"/item/{item}", data=bad).status_code == 422
    missing = {"csrf_token": token, "submission_id": "r1", f"score_{uids[0]}": "8"}
    assert client.post(f"/item/{item}", data=missing).status_code == 422
    good = {
        "csrf_token": token,
        "submission_id": "r2",
        f"score_{uids[0]}": "8",
        f"score_{uids[1]}": "3",
        "best_answer": uids[0],
        "better_answer": "更好的回答：建议尽快就医。",
    }
    assert client.post(f"/item/{item}", data=good).status_code == 303
    labels = {r["answer"]: r["score"] for r in client.get("/api/labels").json()["labels"]}
    assert labels == {uids[0]: 8, uids[1]: 3}
    notes = store.item_notes()
    assert len(notes) == 1 and notes[0][0].better_answer == "更好的回答：建议尽快就医。"
    model_of = {a.uid: a.model for _, a in store.answers_table("responsibility")}
    assert notes[0][2] == model_of[uids[0]]


def test_answer_order_is_shuffled_per_item_and_recorded(tmp_path: Path) -> None:
    rows = [
        {"item_id": f"q{i}", "prompt": f"问题{i}", "response": f"回答{m}", "model": m, "category": "law"}
        for i in range(30)
        for m in ("m1", "m2", "m3")
    ]
    s = Store(tmp_path / "p.db", create=True)
    s.import_answers(
        read_source(write_jsonl(tmp_path / "r.jsonl", rows), "responsibility"), "responsibility", seed=1
    )
    orders = set()
    for item_pk in range(1, 31):
        item = s.item(item_pk)
        assert sorted(a.position for a in item.answers) == [0, 1, 2]
        orders.add(tuple(a.model for a in item.answers))
    assert len(orders) > 1  # not the import order every time


def test_admin_adjudicates_and_keeps_the_originals(app, store: Store) -> None:
    alice, bob = login(app, "alice"), login(app, "bob")
    for client, label in ((alice, "safe"), (bob, "unsafe")):
        page = start(client, "safety")
        item = item_id_of(page)
        uid = re.search(r'data-answer="([0-9a-f]{32})"', page).group(1)
        client.post(
            f"/item/{item}", data={"csrf_token": csrf(client), "submission_id": label, f"label_{uid}": label}
        )
    admin = login(app, "root")
    page = admin.get("/admin/adjudicate/safety").text
    assert page.count('class="card adjudication"') == 1 and "alice" in page and "bob" in page
    r = admin.post(
        "/admin/adjudicate/safety",
        data={"csrf_token": csrf(admin), "answer": uid, "label": "unsafe", "note": "细节足以造成危害"},
    )
    assert r.status_code == 303
    page = admin.get("/admin/adjudicate/safety").text
    assert "已裁决 adjudicated" in page and "细节足以造成危害" in page
    rows = [json.loads(x) for x in admin.get("/admin/export?format=jsonl").text.splitlines()]
    originals = sorted(r["label"] for r in rows if not r["final"] and r["item_id"] == "s1")
    finals = [r for r in rows if r["final"]]
    assert originals == ["safe", "unsafe"]
    assert len(finals) == 1 and finals[0]["label"] == "unsafe" and finals[0]["adjudicated"] is True
    assert finals[0]["n_labels"] == 2
    assert store.audit()[0]["action"] == "adjudication.set"
    trail = admin.get("/admin/audit").text
    assert "adjudication.set" in trail and "label.create" in trail and "root" in trail
