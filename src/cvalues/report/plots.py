"""Plots of the report document: a model x category heatmap and bars with intervals per category.

Drawn with matplotlib's object-oriented API (``matplotlib.figure.Figure`` rendered by the Agg/SVG
canvases, never ``pyplot``), so building a report changes no global plotting state and needs no
display. matplotlib is imported when a plot is drawn, not when the package is. Plots are SVG with
text kept as text (``svg.fonttype: none``): sharp at any zoom, searchable, and drawn with the reader's
fonts, so Chinese category names need no font embedded in the report.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

#: Fonts tried in order by the reader's browser for plot text (Chinese-capable ones after the default).
FONTS = [
    "DejaVu Sans",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "PingFang SC",
    "Microsoft YaHei",
    "sans-serif",
]
RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": FONTS,
    "font.size": 9,
    "svg.hashsalt": "cvalues-report",
}


def _scale(fmt: str) -> tuple[float, str]:
    return (100.0, "%") if fmt == "pct" else (1.0, "")


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _draw(draw: Any) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs missing from the layout font: the browser draws them
        fig = Figure()
        draw(fig)
        return _svg(fig)


def _margins(
    fig: Any, width: float, height: float, *, left_chars: int, bottom_chars: int, legend_chars: int = 0
) -> None:
    """Fixed margins sized to the longest labels (a tight bounding box would draw every plot twice).

    Rotated category labels reach left of the first tick, so the left margin covers them too; a legend
    (``legend_chars``: its longest entry) goes right of the axes.
    """
    char = 0.075  # inches per character at font size 9, about (CJK characters count as two)
    left = min(0.45, max(0.3 + char * left_chars, 0.45 * char * bottom_chars) / width)
    bottom = min(0.55, (0.35 + 0.6 * char * bottom_chars) / height)  # labels rotated ~35-40 degrees
    right = 1 - (0.5 + char * legend_chars) / width if legend_chars else 0.97
    fig.subplots_adjust(left=left, bottom=bottom, right=right, top=1 - 0.45 / height)


def _chars(text: str) -> int:
    from cvalues.mc.metrics import display_width

    return display_width(text)


def heatmap_svg(heatmap: Mapping[str, Any]) -> str:
    """A model x category heatmap (rows: models, columns: categories) with the value in each cell."""
    models: Sequence[str] = heatmap["models"]
    cats: Sequence[str] = heatmap["categories"]
    factor, unit = _scale(heatmap.get("fmt", "pct"))
    values = [[v * factor if v is not None else float("nan") for v in row] for row in heatmap["values"]]

    def draw(fig: Any) -> None:
        import numpy as np

        width, height = max(5.0, 0.8 * len(cats) + 3.5), max(2.5, 0.4 * len(models) + 2.2)
        fig.set_size_inches(width, height)
        _margins(
            fig,
            width,
            height,
            left_chars=max(map(_chars, models), default=4),
            bottom_chars=max(map(_chars, cats), default=4),
        )
        ax = fig.add_subplot()
        data = np.array(values, dtype=float)
        masked = np.ma.masked_invalid(data)
        vmax = 100.0 if unit == "%" else 10.0
        vmin = 0.0 if unit == "%" else 1.0
        image = ax.imshow(masked, cmap="RdYlGn", vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(cats)), labels=list(cats), rotation=40, ha="right")
        ax.set_yticks(range(len(models)), labels=list(models))
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                if not np.isnan(data[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{data[i, j]:.0f}" if unit else f"{data[i, j]:.1f}",
                        ha="center",
                        va="center",
                        fontsize=8,
                    )
        ax.set_title(str(heatmap.get("title", "")))
        fig.colorbar(image, ax=ax, label=unit or "score", shrink=0.8)

    return _draw(draw)


def bars_svg(table: Mapping[str, Any]) -> str:
    """Grouped bars per category (one bar per model) with the bootstrap interval as error bars."""
    models = [c for c in table["columns"][1:]]
    rows = table["rows"]
    fmt = next((r[c["key"]]["fmt"] for r in rows for c in models if isinstance(r.get(c["key"]), dict)), "pct")
    factor, unit = _scale(fmt)

    def draw(fig: Any) -> None:
        legend = max((_chars(c["label"]) for c in models), default=0) + 4 if len(models) > 1 else 0
        width = min(16.0, max(6.0, 0.35 * len(rows) * max(1, len(models)) ** 0.5 + 3 + 0.075 * legend))
        height = 4.5
        fig.set_size_inches(width, height)
        labels = [str(r.get("category", "")) for r in rows]
        _margins(
            fig,
            width,
            height,
            left_chars=4,
            bottom_chars=max(map(_chars, labels), default=4),
            legend_chars=legend,
        )
        ax = fig.add_subplot()
        bar = 0.8 / max(1, len(models))
        for k, col in enumerate(models):
            xs, ys, lo, hi = [], [], [], []
            for i, row in enumerate(rows):
                c = row.get(col["key"])
                if not isinstance(c, dict) or c.get("value") is None:
                    continue
                v = c["value"] * factor
                xs.append(i - 0.4 + bar * (k + 0.5))
                ys.append(v)
                lo.append(v - c["low"] * factor if c.get("low") is not None else 0.0)
                hi.append(c["high"] * factor - v if c.get("high") is not None else 0.0)
            ax.bar(
                xs,
                ys,
                width=bar * 0.95,
                label=col["label"],
                yerr=[lo, hi],
                capsize=2,
                error_kw={"elinewidth": 0.8},
            )
        ax.set_xticks(range(len(rows)), labels=labels, rotation=35, ha="right")
        ax.set_ylabel(unit or "score")
        ax.set_ylim(0, 100 if unit == "%" else 10)
        ax.set_title(str(table.get("title", "")))
        if len(models) > 1:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)

    return _draw(draw)


def report_plots(document: Mapping[str, Any]) -> list[dict[str, str]]:
    """``[{id, title, svg}]``: model x scenario heatmaps (two models or more) and bars with intervals per
    scenario and domain."""
    plots = []
    for hm in document.get("heatmaps", []):
        if hm["table"].startswith("scenario") and len(hm["models"]) >= 2 and hm["categories"]:
            plots.append(
                {"id": f"heatmap-{hm['table']}", "title": f"Heatmap: {hm['title']}", "svg": heatmap_svg(hm)}
            )
    for table in document.get("tables", []):
        if table["id"] in ("scenario_mc", "scenario_score", "domain_mc", "domain_score") and table["rows"]:
            plots.append({"id": f"bars-{table['id']}", "title": table["title"], "svg": bars_svg(table)})
    return plots
