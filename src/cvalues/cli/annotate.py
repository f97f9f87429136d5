"""`cvalues annotate ...`: the human-evaluation project: init, import, users, serve, status, export, scores.

Thin click code over :mod:`cvalues.annotate`; web and database libraries are imported inside the
commands so that ``cvalues --help`` stays light.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

TASK_CHOICE = click.Choice(["safety", "responsibility"])


def register(cli: click.Group) -> None:
    """Add the ``annotate`` group to the root command."""
    cli.add_command(annotate)


def db_option(f: Any) -> Any:
    return click.option(
        "--db",
        required=True,
        envvar="CVALUES_ANNOTATE_DB",
        help="The project store: a SQLite path, sqlite:///path.db or postgresql://... "
        "(env CVALUES_ANNOTATE_DB).",
    )(f)


def _open(db: str) -> Any:
    from cvalues.annotate.store import Store, StoreError

    try:
        return Store(db)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def annotate() -> None:
    """Human evaluation: annotators label safety answers, experts score responsibility answers."""


@annotate.command()
@db_option
@click.option("--warning", "warnings", multiple=True, metavar="TASK=TEXT", help="Content warning of a task.")
def init(db: str, warnings: tuple[str, ...]) -> None:
    """Create a project store (or check an existing one); SQLite by default, PostgreSQL by URL."""
    from cvalues.annotate.store import Store

    with Store(db, create=True) as store:
        for spec in warnings:
            task, sep, text = spec.partition("=")
            if not sep or task not in ("safety", "responsibility") or not text.strip():
                raise click.BadParameter(
                    f"{spec!r}: use safety=TEXT or responsibility=TEXT", param_hint="--warning"
                )
            store.set_setting(f"warning.{task}", text.strip())
        click.echo(f"annotation project ready at {store.display_url}")


@annotate.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option(
    "--task", type=TASK_CHOICE, required=True, help="Label safety (safe/unsafe) or score responsibility."
)
@click.option(
    "--per-item", type=click.IntRange(min=1), default=None, help="Annotators per item, k (default 1)."
)
@click.option(
    "--self-id",
    type=click.Choice(["mask", "skip", "keep"]),
    default="mask",
    show_default=True,
    help="Answers naming their own model (我是通义千问…): show with the name masked, leave out, "
    "or keep as is.",
)
@click.option("--dry-run", is_flag=True, help="Report what would be imported (and flagged); change nothing.")
@click.option("--seed", type=int, default=None, help="Seed of the per-item answer order shuffle.")
def import_(
    sources: tuple[Path, ...],
    db: str,
    task: str,
    per_item: int | None,
    self_id: str,
    dry_run: bool,
    seed: int | None,
) -> None:
    """Load generation runs (or JSONL/CSV files of prompt, response, model, category) as items.

    Importing the same run twice adds nothing. Answers that name the model that wrote them are listed
    before anything is written, since they break blinding.
    """
    from cvalues.annotate.sources import read_source
    from cvalues.data.errors import DataError

    answers = []
    try:
        for source in sources:
            answers += read_source(source, task)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    with _open(db) as store:
        summary = store.import_answers(
            answers, task, per_item=per_item, self_id=self_id, seed=seed, dry_run=dry_run
        )
    for flagged in summary.self_identified:
        click.echo(
            f"blinding: {flagged['item_id']} ({flagged['model']}) names {', '.join(flagged['names'])} "
            f"-> {self_id}",
            err=True,
        )
    prefix = "would add" if dry_run else "added"
    click.echo(
        f"{prefix} {summary.items_added} items, {summary.answers_added} answers ({summary.answers_present} "
        f"already there, {summary.skipped} skipped, {len(summary.self_identified)} naming their model)"
    )
    if summary.answers_changed:
        click.echo(
            f"warning: {len(summary.answers_changed)} answers differ from the stored ones "
            "and were not replaced "
            f"(e.g. {summary.answers_changed[0]})",
            err=True,
        )


@annotate.group()
def users() -> None:
    """Accounts: annotators (safety), experts (both tasks), admins (progress, adjudication, export)."""


@users.command("add")
@click.argument("name")
@db_option
@click.option(
    "--role", type=click.Choice(["annotator", "expert", "admin"]), default="annotator", show_default=True
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--generate", "generate", is_flag=True, help="Generate a password and print it once.")
def users_add(name: str, db: str, role: str, password_stdin: bool, generate: bool) -> None:
    """Create an account; the password is prompted (or read, or generated and printed once)."""
    from cvalues.annotate.store import StoreError, generate_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif generate or not sys.stdin.isatty():
        password = generate_password()
        generate = True
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException("a password has at least 8 characters")
    with _open(db) as store:
        try:
            store.add_user(name, role, password)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name} ({role}) created")
    if generate:
        click.echo(f"password (shown once): {password}")


@users.command("passwd")
@click.argument("name")
@db_option
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_passwd(name: str, db: str, password_stdin: bool) -> None:
    """Set a new password; the user's open sessions end."""
    from cvalues.annotate.store import StoreError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException("a password has at least 8 characters")
    with _open(db) as store:
        try:
            store.set_password(name, password)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {name} changed")


@users.command("list")
@db_option
def users_list(db: str) -> None:
    """Names and roles."""
    with _open(db) as store:
        for u in store.users():
            click.echo(f"{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}")


@annotate.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 exposes it).")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option(
    "--session-hours", type=float, default=8.0, show_default=True, help="Sessions expire after this."
)
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only (behind TLS).")
def serve(db: str, host: str, port: int, session_hours: float, secure_cookies: bool) -> None:
    """Run the web app."""
    import uvicorn

    from cvalues.annotate.app import create_app

    app = create_app(_open(db), session_hours=session_hours, secure_cookies=secure_cookies)
    click.echo(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="info")


@annotate.command()
@db_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(db: str, fmt: str) -> None:
    """Tasks, items, labels per annotator, progress and agreement."""
    from cvalues.annotate.agreement import agreement_report

    with _open(db) as store:
        progress = store.progress()
        agreement = {task: agreement_report(store.units(task), task) for task in progress}
    if fmt == "json":
        click.echo(json.dumps({"tasks": progress, "agreement": agreement}, ensure_ascii=False, indent=2))
        return
    for task, p in progress.items():
        pct = f"{p['progress'] * 100:.0f}%" if p["progress"] is not None else "-"
        alpha = agreement[task]["alpha"]
        click.echo(
            f"{task}: {p['items']} items, {p['answers']} answers, {p['labels']} labels, "
            f"{p['items_complete']} complete, progress {pct}, alpha "
            f"{'-' if alpha is None else f'{alpha:.3f}'}"
        )
        for name, row in p["annotators"].items():
            click.echo(
                f"  {name}: {row['finished']}/{row['assigned']} items finished, {row['labels']} labels"
            )


@annotate.command()
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv", "label-studio"]), default="jsonl", show_default=True
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File written atomically."
)
def export(db: str, fmt: str, out: Path) -> None:
    """Labels as JSONL/CSV (one line per label, then settled lines) or Label Studio JSON."""
    from cvalues.annotate.export import export_labels
    from cvalues.annotate.store import StoreError

    try:
        n = export_labels(db, out, fmt)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {n} {'tasks' if fmt == 'label-studio' else 'lines'} to {out}")


@annotate.command("import-labels")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["label-studio"]), default="label-studio", show_default=True
)
def import_labels(path: Path, db: str, fmt: str) -> None:
    """Read labels back from Label Studio's JSON export (idempotent)."""
    from cvalues.annotate.export import read_label_studio
    from cvalues.data.errors import DataError

    with _open(db) as store:
        try:
            counts = read_label_studio(store, path)
        except DataError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{counts['tasks']} tasks: {counts['labels']} annotations stored, "
        f"{counts['duplicates']} already there, "
        f"{counts['skipped']} cancelled skipped"
    )


@annotate.command()
@db_option
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
def scores(db: str, fmt: str) -> None:
    """Human safety score (share safe) and responsibility score (mean) per model and category."""
    from cvalues.annotate.scores import human_scores

    with _open(db) as store:
        result = human_scores(store)
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for task in ("safety", "responsibility"):
        for model, figs in result[task].items():
            o = figs["overall"]
            ci = f" [{o['ci95'][0]:.3f}, {o['ci95'][1]:.3f}]" if o["ci95"] else ""
            click.echo(f"{task}  {model}: {o['score']:.3f}{ci} (n={o['n']})")
