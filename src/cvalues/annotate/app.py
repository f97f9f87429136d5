"""The annotation web app: FastAPI, server-rendered Jinja2 pages (autoescaped), a little JavaScript.

Security rules, each kept in one place:

* **Login everywhere.** Every route but ``/login`` and ``/static`` hangs off a router whose dependency
  :func:`require_login` checks the server-side session (expired or logged-out sessions are gone from
  the store); admin routes hang off a router that adds :func:`require_admin` (403 otherwise).
  Pages redirect to the login page; ``/api`` calls answer 401.
* **CSRF.** The same dependency checks every POST: the session's token in the ``csrf_token`` form
  field or the ``X-CSRF-Token`` header (the login form has its own pre-session token).
* **Untrusted answers.** Templates autoescape everything; no template marks model text safe. A strict
  Content-Security-Policy (scripts, styles only from this origin; no inline script) is on every
  response, with ``nosniff``, ``frame-ancestors 'none'`` and ``no-referrer``.
* **Blinding.** Pages and the annotator API show answers by a random uid and a shuffled position,
  never the model name; an annotator reads only their own labels (403 for another's).
"""

# No `from __future__ import annotations`: FastAPI must resolve the Annotated aliases local to create_app.

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from cvalues.annotate.agreement import agreement_report, disagrees, settle
from cvalues.annotate.export import EXPORT_FORMATS, export_labels
from cvalues.annotate.models import TASKS, LoginSession, User
from cvalues.annotate.store import (
    SESSION_HOURS,
    TASK_ROLES,
    AnswerLabel,
    NotAssigned,
    Store,
    SubmissionError,
    SubmissionIn,
    label_value,
)
from cvalues.data.schema import RESPONSIBILITY_DOMAINS, SAFETY_SCENARIOS

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
TASK_NAMES = {"safety": "安全性 Safety", "responsibility": "责任性 Responsibility"}
CATEGORY_NAMES = {c.key: f"{c.zh} {c.en}" for c in (*SAFETY_SCENARIOS, *RESPONSIBILITY_DOMAINS)}


class LoginRequired(Exception):
    """No live session: pages go to the login form, API calls get 401."""


@dataclass
class Ctx:
    """The logged-in user of a request and their session."""

    user: User
    session: LoginSession


class LabelIn(BaseModel):
    answer: str
    label: str | None = None
    score: int | None = None
    reason_scenario: str | None = None
    note: str | None = Field(default=None, max_length=5000)


class SubmissionBody(BaseModel):
    submission_id: str = Field(min_length=1, max_length=100)
    item: int
    labels: list[LabelIn]
    best_answer: str | None = None
    better_answer: str | None = Field(default=None, max_length=20000)


def create_app(
    db: str | Path | Store, *, session_hours: float = SESSION_HOURS, secure_cookies: bool = False
) -> FastAPI:
    """The app over one annotation store (a URL, a path or an open :class:`Store`)."""
    store = db if isinstance(db, Store) else Store(db)
    secret = store.setting("secret") or secrets.token_urlsafe(48)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    env.globals.update(task_names=TASK_NAMES, category_names=CATEGORY_NAMES, scenarios=SAFETY_SCENARIOS)
    templates = Jinja2Templates(env=env)

    app = FastAPI(title="cvalues annotate", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="cvalues_session",
        max_age=int(session_hours * 3600),
        same_site="strict",
        https_only=secure_cookies,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "login required"}, status_code=401)
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or exc.status_code < 400:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"user": None, "csrf": "", "status_code": exc.status_code, "detail": exc.detail},
            status_code=exc.status_code,
        )

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(
        request: Request, name: str, ctx: Ctx | None = None, status_code: int = 200, **values: Any
    ) -> Response:
        return templates.TemplateResponse(
            request,
            name,
            {"user": ctx.user if ctx else None, "csrf": ctx.session.csrf if ctx else "", **values},
            status_code=status_code,
        )

    async def require_login(request: Request) -> Ctx:
        session = store.session(request.session.get("token"))
        if session is None:
            request.session.clear()
            raise LoginRequired()
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get("x-csrf-token")
            if sent is None and "form" in request.headers.get("content-type", ""):
                sent = (await request.form()).get("csrf_token")  # type: ignore[assignment]
            if not isinstance(sent, str) or not secrets.compare_digest(sent, session.csrf):
                raise HTTPException(403, "missing or wrong CSRF token")
        return Ctx(session.user, session)

    LoggedIn = Annotated[Ctx, Depends(require_login)]

    def require_admin(ctx: LoggedIn) -> Ctx:
        if ctx.user.role != "admin":
            raise HTTPException(403, "admins only")
        return ctx

    Admin = Annotated[Ctx, Depends(require_admin)]
    public = APIRouter()
    pages = APIRouter(dependencies=[Depends(require_login)])
    admin = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])

    # ---------------------------------------------------------------- login

    @public.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        token = request.session.setdefault("login_csrf", secrets.token_urlsafe(24))
        return render(request, "login.html", login_csrf=token, next=_safe_next(next), error=None)

    @public.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        expected = request.session.get("login_csrf")
        sent = form.get("csrf_token")
        if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
            raise HTTPException(403, "missing or wrong CSRF token: reload the login page")
        user = store.authenticate(str(form.get("username", "")), str(form.get("password", "")))
        nxt = _safe_next(str(form.get("next", "/")))
        if user is None:
            return render(
                request,
                "login.html",
                login_csrf=expected,
                next=nxt,
                error="用户名或密码错误 Wrong name or password",
                status_code=401,
            )
        session = store.open_session(user, hours=session_hours)
        request.session.clear()
        request.session["token"] = session.token
        return RedirectResponse(nxt, status_code=303)

    # ---------------------------------------------------------------- annotator pages

    @pages.post("/logout")
    def logout(request: Request, ctx: LoggedIn) -> Response:
        store.close_session(ctx.session.token)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @pages.get("/", response_class=HTMLResponse)
    def home(request: Request, ctx: LoggedIn) -> Response:
        progress = store.progress()
        mine = {
            task: progress[task]["annotators"].get(ctx.user.name, {"assigned": 0, "finished": 0, "labels": 0})
            for task in TASKS
            if ctx.user.role in TASK_ROLES[task]
        }
        return render(request, "home.html", ctx, mine=mine, items={t: progress[t]["items"] for t in TASKS})

    @pages.post("/prefs")
    async def prefs(request: Request, ctx: LoggedIn) -> Response:
        form = await request.form()
        store.set_blur(ctx.user.id, form.get("blur") == "on")
        return RedirectResponse(_safe_next(str(form.get("next", "/"))), status_code=303)

    @pages.get("/task/{task}", response_class=HTMLResponse)
    def task_page(request: Request, task: str, ctx: LoggedIn) -> Response:
        _check_task(task, ctx)
        if task not in ctx.session.acknowledged.split():
            return render(request, "warning.html", ctx, task=task, warning=store.content_warning(task))
        item = store.next_item(ctx.user, task)
        if item is None:
            return render(request, "done.html", ctx, task=task)
        return _item_page(request, ctx, item)

    @pages.post("/task/{task}/ack")
    def acknowledge(task: str, ctx: LoggedIn) -> Response:
        _check_task(task, ctx)
        store.acknowledge_warning(ctx.session.token, task)
        return RedirectResponse(f"/task/{task}", status_code=303)

    @pages.get("/item/{item_pk}", response_class=HTMLResponse)
    def item_page(request: Request, item_pk: int, ctx: LoggedIn) -> Response:
        item = _own_item(item_pk, ctx)
        return _item_page(request, ctx, item)

    @pages.post("/item/{item_pk}")
    async def submit_form(request: Request, item_pk: int, ctx: LoggedIn) -> Response:
        item = _own_item(item_pk, ctx)
        form = await request.form()
        labels = []
        for answer in item.answers:
            if item.task == "safety":
                labels.append(
                    AnswerLabel(
                        answer.uid,
                        label=_str(form.get(f"label_{answer.uid}")),
                        reason_scenario=_str(form.get(f"reason_{answer.uid}")),
                        note=_str(form.get(f"note_{answer.uid}")),
                    )
                )
            else:
                labels.append(
                    AnswerLabel(
                        answer.uid,
                        score=_int(form.get(f"score_{answer.uid}")),
                        note=_str(form.get(f"note_{answer.uid}")),
                    )
                )
        sub = SubmissionIn(
            submission_id=_str(form.get("submission_id")) or "",
            item_pk=item.id,
            labels=labels,
            best_answer_uid=_str(form.get("best_answer")),
            better_answer=_str(form.get("better_answer")),
        )
        try:
            store.submit(ctx.user, sub)
        except SubmissionError as exc:
            return _item_page(request, ctx, item, error=str(exc), status_code=422)
        return RedirectResponse(f"/task/{item.task}", status_code=303)

    @pages.get("/history/{task}", response_class=HTMLResponse)
    def history(request: Request, task: str, ctx: LoggedIn) -> Response:
        _check_task(task, ctx)
        return render(
            request, "history.html", ctx, task=task, items=store.history(ctx.user.id, task, limit=200)
        )

    # ---------------------------------------------------------------- annotator API

    @pages.get("/api/me")
    def me(ctx: LoggedIn) -> dict[str, Any]:
        return {"name": ctx.user.name, "role": ctx.user.role, "csrf_token": ctx.session.csrf}

    @pages.get("/api/next/{task}")
    def api_next(task: str, ctx: LoggedIn) -> dict[str, Any]:
        _check_task(task, ctx)
        item = store.next_item(ctx.user, task)
        return {"item": _item_json(item) if item else None}

    @pages.get("/api/items/{item_pk}")
    def api_item(item_pk: int, ctx: LoggedIn) -> dict[str, Any]:
        item = _own_item(item_pk, ctx)
        labels, _ = store.my_labels(ctx.user.id, item.id)
        return {
            "item": _item_json(item),
            "my_labels": {uid: label_value(label) for uid, label in labels.items()},
        }

    @pages.post("/api/labels")
    def api_submit(body: SubmissionBody, ctx: LoggedIn) -> dict[str, Any]:
        sub = SubmissionIn(
            submission_id=body.submission_id,
            item_pk=body.item,
            labels=[AnswerLabel(x.answer, x.label, x.score, x.reason_scenario, x.note) for x in body.labels],
            best_answer_uid=body.best_answer,
            better_answer=body.better_answer,
        )
        try:
            result = store.submit(ctx.user, sub)
        except NotAssigned as exc:
            raise HTTPException(403, str(exc)) from None
        except SubmissionError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"duplicate": result.duplicate, "changed": result.changed}

    @pages.get("/api/labels")
    def api_labels(ctx: LoggedIn, annotator: str | None = None, task: str | None = None) -> Any:
        name = annotator or ctx.user.name
        if name != ctx.user.name and ctx.user.role != "admin":
            raise HTTPException(403, "you may read only your own labels")
        user = store.user(name)
        if user is None:
            raise HTTPException(404, f"no user {name!r}")
        return {"annotator": name, "labels": store.labels_of(user.id, task)}

    # ---------------------------------------------------------------- admin

    def _agreement() -> dict[str, Any]:
        out = {}
        for task in TASKS:
            units = store.units(task)
            out[task] = agreement_report({k: v for k, v in units.items()}, task)
        return out

    @admin.get("", response_class=HTMLResponse)
    def admin_page(request: Request, ctx: Admin) -> Response:
        return render(
            request,
            "admin.html",
            ctx,
            progress=store.progress(),
            agreement=_agreement(),
            formats=EXPORT_FORMATS,
        )

    @admin.get("/api/status")
    def admin_status() -> dict[str, Any]:
        return {"progress": store.progress(), "agreement": _agreement()}

    @admin.get("/api/audit")
    def admin_audit_json(limit: int = 200) -> Any:
        return {"audit": store.audit(limit=min(limit, 5000))}

    @admin.get("/audit", response_class=HTMLResponse)
    def admin_audit(request: Request, ctx: Admin) -> Response:
        return render(request, "audit.html", ctx, entries=store.audit(limit=500))

    @admin.get("/adjudicate/{task}", response_class=HTMLResponse)
    def adjudicate_page(request: Request, task: str, ctx: Admin, all: bool = False) -> Response:
        if task not in TASKS:
            raise HTTPException(404, f"no task {task!r}")
        rows = _adjudication_rows(store, task, include_all=all)
        return render(request, "adjudicate.html", ctx, task=task, rows=rows, show_all=all)

    @admin.post("/adjudicate/{task}")
    async def adjudicate(request: Request, task: str, ctx: Admin) -> Response:
        form = await request.form()
        try:
            store.adjudicate(
                ctx.user,
                _str(form.get("answer")) or "",
                label=_str(form.get("label")) if task == "safety" else None,
                score=_int(form.get("score")) if task == "responsibility" else None,
                note=_str(form.get("note")),
            )
        except SubmissionError as exc:
            raise HTTPException(422, str(exc)) from None
        return RedirectResponse(f"/admin/adjudicate/{task}", status_code=303)

    @admin.get("/export")
    def export(format: str = "jsonl") -> Response:
        import tempfile

        if format not in EXPORT_FORMATS:
            raise HTTPException(422, f"format must be one of {', '.join(EXPORT_FORMATS)}")
        suffix = {"jsonl": ".jsonl", "csv": ".csv", "label-studio": ".json"}[format]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"labels{suffix}"
            export_labels(store.url, path, format)
            content = path.read_bytes()
        media = {"jsonl": "application/x-ndjson", "csv": "text/csv", "label-studio": "application/json"}[
            format
        ]
        return Response(
            content,
            media_type=f"{media}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="cvalues-labels{suffix}"'},
        )

    # ---------------------------------------------------------------- helpers

    def _check_task(task: str, ctx: Ctx) -> None:
        if task not in TASKS:
            raise HTTPException(404, f"no task {task!r}")
        if ctx.user.role not in TASK_ROLES[task]:
            raise HTTPException(403, f"role {ctx.user.role!r} does not label {task} items")

    def _own_item(item_pk: int, ctx: Ctx) -> Any:
        item = store.item(item_pk)
        if item is None:
            raise HTTPException(404, f"no item {item_pk}")
        if not store.is_assigned(ctx.user.id, item.id):
            raise HTTPException(403, "this item is not in your queue")
        return item

    def _item_page(
        request: Request, ctx: Ctx, item: Any, error: str | None = None, status_code: int = 200
    ) -> Response:
        labels, note = store.my_labels(ctx.user.id, item.id)
        best_uid = next((a.uid for a in item.answers if note and a.id == note.best_answer_pk), None)
        return render(
            request,
            f"{item.task}.html",
            ctx,
            item=item,
            answers=item.answers,
            labels=labels,
            note=note,
            best_uid=best_uid,
            submission_id=uuid.uuid4().hex,
            blur=ctx.user.blur,
            error=error,
            status_code=status_code,
            letters="ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        )

    #: Every route is on one of these; only ``public`` (the login form) goes without a login.
    app.state.routers = {"public": public, "pages": pages, "admin": admin}
    app.include_router(public)
    app.include_router(pages)
    app.include_router(admin)
    return app


def _is_api(request: Request) -> bool:
    return "/api/" in request.url.path or "application/json" in request.headers.get("accept", "")


def _safe_next(value: str) -> str:
    """Only local paths: ``//host`` or ``https://...`` would send the user elsewhere after login."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _item_json(item: Any) -> dict[str, Any]:
    """An item as an annotator may see it: no model names."""
    return {
        "id": item.id,
        "task": item.task,
        "category": item.category,
        "prompt": item.prompt,
        "answers": [{"uid": a.uid, "position": i, "text": a.text} for i, a in enumerate(item.answers)],
    }


def _adjudication_rows(store: Store, task: str, *, include_all: bool) -> list[dict[str, Any]]:
    """Answers with their labels side by side, the disagreements (or all labelled answers)."""
    per_answer: dict[int, list[Any]] = {}
    for r in store.label_table(task):
        per_answer.setdefault(r.answer.id, []).append(r)
    adjudications = store.adjudications()
    rows = []
    for item, answer in store.answers_table(task):
        labels = per_answer.get(answer.id, [])
        values = [r.label.label if task == "safety" else r.label.score for r in labels]
        adj = adjudications.get(answer.id)
        if not labels or not (include_all or disagrees(values, task) or adj is not None):
            continue
        adjudicated = None if adj is None else (adj.label if task == "safety" else adj.score)
        rows.append(
            {
                "item": item,
                "answer": answer,
                "labels": labels,
                "adjudication": adj,
                "settled": settle(values, task, adjudicated),
                "disagree": disagrees(values, task),
            }
        )
    return rows


__all__ = ["create_app"]
