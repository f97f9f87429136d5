"""Views of the report document: one self-contained HTML file, Markdown, and CSV tables.

Nothing is computed here: every number shown is a number of the document (:mod:`.document`), only
formatted. The HTML is rendered by Jinja2 with autoescaping on, so model answers (which may hold
``<script>``) are text, never markup; the answers behind the figures travel as JSON in a
``<script type="application/json">`` block (``<``, ``>`` and ``&`` written as ``\\u003c`` ...) and are
put on the page with ``textContent``. A Content-Security-Policy allows no network at all and runs only
the report's own script (by its hash), so even a mistake in escaping could not load or run anything.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TEMPLATE_DIR = Path(__file__).parent / "templates"


# --- formatting (the one place numbers become text) -----------------------------------------------


def fmt_number(value: Any, fmt: str) -> str:
    """A figure as text: ``pct`` -> ``73.5``, ``score`` -> ``7.12``, ``p`` -> ``0.012``/``<0.001``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if fmt == "pct":
        return f"{100 * value:.1f}"
    if fmt == "score":
        return f"{value:.2f}"
    if fmt == "p":
        return "<0.001" if value < 0.001 else f"{value:.3f}"
    if fmt == "int":
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def is_figure(value: Any) -> bool:
    return isinstance(value, Mapping) and "fmt" in value and "value" in value


def fmt_interval(c: Mapping[str, Any]) -> str:
    if c.get("low") is None or c.get("high") is None:
        return ""
    return f"[{fmt_number(c['low'], c['fmt'])}, {fmt_number(c['high'], c['fmt'])}]"


def fmt_cell(value: Any, column: str = "") -> str:
    """A table cell as plain text (figures with interval and count)."""
    if is_figure(value):
        parts = [fmt_number(value["value"], value["fmt"])]
        if fmt_interval(value):
            parts.append(fmt_interval(value))
        if value.get("n") is not None:
            parts.append(f"n={value['n']}")
        if value.get("source") == "judge":
            parts.append(f"(judge; {value.get('calibration', 'uncalibrated')})")
        elif value.get("source") == "human":
            parts.append("(human)")
        return " ".join(parts)
    if column in ("p", "p_holm"):
        return fmt_number(value, "p")
    return fmt_number(value, "")


def sort_key(value: Any) -> str:
    """What the HTML tables sort a cell by (a number where the cell holds one)."""
    if is_figure(value):
        v = value.get("value")
        return "" if v is None else repr(float(v))
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return repr(float(value))
    return ""


# --- CSV ------------------------------------------------------------------------------------------


def _csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: spreadsheet programs then read UTF-8


def table_csv(table: Mapping[str, Any]) -> bytes:
    """A document table as CSV: a figure becomes four columns (value, low, high, n), in raw units."""
    keys = [c["key"] for c in table["columns"]]
    figure_cols = {k for k in keys for r in table["rows"] if is_figure(r.get(k))}
    header: list[str] = []
    for k in keys:
        header += [k, f"{k}_low", f"{k}_high", f"{k}_n"] if k in figure_cols else [k]
    rows = []
    for r in table["rows"]:
        out: list[Any] = []
        for k in keys:
            v = r.get(k)
            if k in figure_cols:
                out += (
                    [v.get("value"), v.get("low"), v.get("high"), v.get("n")] if is_figure(v) else [None] * 4
                )
            else:
                out.append(v)
        rows.append(out)
    return _csv_bytes(header, rows)


def evidence_csv(document: Mapping[str, Any], set_id: str) -> bytes:
    """The answers behind figures, one row per answer, prompts written out in full."""
    ev = document["evidence"][set_id]
    prompts = document["prompts"]
    cols = ev["columns"]
    p = cols.index("prompt") if "prompt" in cols else -1
    rows = [[prompts.get(v, "") if i == p else v for i, v in enumerate(row)] for row in ev["rows"]]
    return _csv_bytes(cols, rows)


# --- Markdown -------------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def to_markdown(document: Mapping[str, Any], plot_files: Mapping[str, str]) -> str:
    """The report as Markdown: tables (each figure links to its answers CSV), plots, runs, warnings."""
    lines = [f"# {_md(document['title'])}", ""]
    o = document["options"]
    lines.append(
        f"Built {document['created_at']} by cvalues {document['cvalues']} from "
        f"{', '.join(f'`{s}`' for s in document['sources']) or 'no folder'}; {len(document['runs'])} runs; "
        f"{round(o['level'] * 100)}% bootstrap intervals over {o['resamples']} resamples (seed {o['seed']}). "
        "Each figure links to the answers behind it (CSV under `answers/`); the manifests of all runs are "
        "in `report.json`."
    )
    lines.append("")
    for warning in document["warnings"]:
        lines.append(f"> warning: {_md(warning)}")
    if document["warnings"]:
        lines.append("")
    for note in document.get("notes", []):
        lines.append(f"> note: {_md(note)}")
    if document.get("notes"):
        lines.append("")
    for table in document["tables"]:
        lines += [f"## {_md(table['title'])}", ""]
        if table.get("description"):
            lines += [_md(table["description"]), ""]
        cols = table["columns"]
        lines.append("| " + " | ".join(_md(c["label"]) for c in cols) + " |")
        lines.append("|" + "|".join("---" for _ in cols) + "|")
        for row in table["rows"]:
            cells = []
            for c in cols:
                v = row.get(c["key"])
                text = _md(fmt_cell(v, c["key"]))
                if is_figure(v) and v.get("evidence"):
                    first = fmt_number(v["value"], v["fmt"])
                    text = f"[{first}](answers/{v['evidence']['set']}.csv)" + text[len(first) :]
                cells.append(text)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if plot_files:
        lines += ["## Plots", ""]
        for title, path in plot_files.items():
            lines += [f"![{_md(title)}]({path})", ""]
    lines += ["## Runs", ""]
    for run in document["runs"]:
        lines.append(
            f"- {run['kind']}: `{run['path']}` (model {_md(str(run['model']))}, suite {run['suite']}, "
            f"level {run['level']})"
        )
    lines.append("")
    return "\n".join(lines)


# --- HTML -----------------------------------------------------------------------------------------


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no ``</script>``, no ``<!--``, no HTML entities."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def to_html(document: Mapping[str, Any], plots: Sequence[Mapping[str, str]]) -> str:
    """The report as one self-contained HTML file (no network, no external script, style or font)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = fmt_cell
    env.filters["number"] = fmt_number
    env.filters["interval"] = fmt_interval
    env.filters["sort_key"] = sort_key
    env.tests["figure"] = is_figure
    script = (TEMPLATE_DIR / "report.js").read_text(encoding="utf-8")
    style = (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    data = {"evidence": document["evidence"], "prompts": document["prompts"]}
    images = [
        {
            **p,
            "src": "data:image/svg+xml;base64," + base64.b64encode(p["svg"].encode("utf-8")).decode("ascii"),
        }
        for p in plots
    ]
    manifests = [
        {
            **{k: v for k, v in run.items() if k != "manifest"},
            "manifest_json": json.dumps(run["manifest"], ensure_ascii=False, indent=2),
        }
        for run in document["runs"]
    ]
    return env.get_template("report.html.j2").render(
        doc=document,
        plots=images,
        runs=manifests,
        data_json=_script_json(data),
        script=script,
        style=style,
        script_hash=f"sha256-{digest}",
        json_dumps=lambda v: json.dumps(v, ensure_ascii=False),
    )
