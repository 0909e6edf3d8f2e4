"""`kvgg report`: a user's evaluations laid out as the paper's Tables 3-7, beside its numbers.

`kvgg evaluate` records each evaluation in the model's run directory
(`kvgg.evaluate.records`); `gather` reads those records (or ``--json`` reports), `tables`
matches them to the rows of `kvgg.evaluate.paper_numbers` by configuration, training scale,
test scales and method, and `format_text`, `format_markdown`, `to_json` and `plot` show the
result. A row nobody evaluated stays blank; evaluations that fit no row are listed after
the tables, so that nothing recorded is hidden.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from kvgg.evaluate.paper_numbers import ILSVRC_SUBMISSION, TABLES, Row
from kvgg.evaluate.records import read_records, record_files

METHOD_NAMES = {"dense": "dense", "multicrop": "multi-crop", "both": "multi-crop & dense"}


@dataclass
class Line:
    """One row of a report table.

    Attributes:
        label: the row as the paper writes it (configuration, S, Q, method).
        paper: the paper's (top-1, top-5) error %, or None.
        yours: the matching evaluation's (top-1, top-5) error %, or None (not run).
        source: the record the user's numbers come from.
        on: what the user's numbers were measured on (data, images, flips).

    Localisation lines (Tables 8 and 9) hold one number, the localisation error %, as
    1-tuples.
    """

    label: str
    paper: tuple[float, ...] | None
    yours: tuple[float, ...] | None = None
    source: str | None = None
    on: str | None = None


@dataclass
class Table:
    """A table of the report: its name (``table3`` ...), title and lines."""

    name: str
    title: str
    lines: list[Line] = field(default_factory=list)
    unit: str = "top-1 / top-5 error %"


class PaperReport(NamedTuple):
    """The paper's tables with the user's results, and the evaluations that fit no row."""

    tables: list[Table]
    others: list[Line]


def gather(paths: Sequence[str | Path], skipped: list[str] | None = None) -> list[dict]:
    """Read evaluation records from run directories, folders of runs, or JSON reports.

    Each record is validated when read (`kvgg.evaluate.records.read_records`); a damaged
    one is named in ``skipped`` and left out.

    Args:
        paths: a run directory (its ``evaluations/*.json``), a folder of run directories
            (``runs/``), or a JSON file written by ``kvgg evaluate -o``.
        skipped: a list that gets one line per record left out.

    Returns:
        The records, each with ``"file"`` added; the same record found in several run
        directories (a fusion) is kept once.

    Raises:
        FileNotFoundError: for a path that does not exist.
    """
    records, left_out = read_records(paths)
    if skipped is not None:
        skipped += left_out
    return records


def row_of(record: dict) -> Row:
    """The paper-table key of a record: (configs, training scales, test scales, method).

    Example:
        >>> row_of({"method": "dense", "scales": [384], "per_model": [
        ...     {"config": "vgg16", "train_scale": [256, 512], "scales": [384]}]})
        (('D',), ((256, 512),), (384,), 'dense')
    """
    from kvgg.models.configs import get_config

    configs, train_scales = [], []
    for model in record["per_model"]:
        name = str(model.get("config"))
        with contextlib.suppress(ValueError):  # outside Table 1 (the 5x5 ablation): as is
            name = get_config(name).name
        configs.append(name)
        scale = model.get("train_scale")
        train_scales.append(tuple(scale) if isinstance(scale, list) else scale)
    per_model = [tuple(model.get("scales", record["scales"])) for model in record["per_model"]]
    order = sorted(range(len(configs)), key=lambda i: (configs[i], per_model[i]))
    # fused models tested at other sets: each its own, never their union
    test = per_model[0] if len(set(per_model)) == 1 else tuple(per_model[i] for i in order)
    return (
        tuple(configs[i] for i in order),
        tuple(train_scales[i] for i in order),
        tuple(test),
        record["method"],
    )


def describe(row: Row) -> str:
    """The paper's way of writing a row, e.g. ``D, S=[256;512], Q=256,384,512, dense``.

    Example:
        >>> describe((("D",), ((256, 512),), (384,), "dense"))
        'D, S=[256;512], Q=384, dense'
        >>> describe((("D", "E"), (384, 256), ((352, 384, 416), (224, 256, 288)), "dense"))
        'D & E, S=256/384, Q=352,384,416 / 224,256,288, dense'
    """
    configs, train_scales, test, method = row

    def scale(s):  # None: a model whose file does not say (imported weights)
        return f"[{s[0]};{s[1]}]" if isinstance(s, tuple) else "?" if s is None else str(s)

    shown = sorted({scale(s) for s in train_scales})
    if test and isinstance(test[0], tuple):  # per model
        tests = " / ".join(",".join(map(str, q)) for q in test)
    else:
        tests = ",".join(map(str, test))
    return (
        f"{' & '.join(configs)}, S={'/'.join(shown)}, Q={tests}, {METHOD_NAMES.get(method, method)}"
    )


def tables(records: Sequence[dict]) -> PaperReport:
    """Lay records out as the paper's tables; the rest as a list of other evaluations.

    A record fills every row it matches (Table 4's and Table 5's D/E dense rows are the
    same evaluation). When several records match a row, the one with flips wins, then the
    last given; every other record is listed after the tables, so that no evaluation is
    hidden. Each line says what it was measured on (data, images, flips). Localisation
    records (`kvgg evaluate --boxes`) fill Tables 8 and 9 (`localization_tables`).

    Returns:
        A `PaperReport`: the tables in the paper's order, and lines for the records that
        fit no row.
    """
    located = [r for r in records if r.get("kind", "classification") == "localization"]
    records = [r for r in records if r.get("kind", "classification") == "classification"]
    by_row: dict[Row, dict] = {}
    unshown: list[tuple[Row, dict]] = []
    for record in sorted(records, key=lambda r: bool(r.get("flip"))):
        row = row_of(record)
        if row in by_row:
            unshown.append((row, by_row[row]))
        by_row[row] = record
    used: set[Row] = set()
    result = []
    for name, (title, rows) in TABLES.items():
        table = Table(name, title)
        for row, paper in rows.items():
            table.lines.append(_line(describe(row), paper, by_row.get(row)))
        used.update(row for row in rows if row in by_row)
        if name == "table6":
            submission = [
                (row, record)
                for row, record in by_row.items()
                if len(row[0]) == ILSVRC_SUBMISSION["nets"]
                and row[3] == ILSVRC_SUBMISSION["method"]
            ]
            row, record = submission[-1] if submission else (None, None)
            used.update([row] if submission else [])
            paper = (ILSVRC_SUBMISSION["top1"], ILSVRC_SUBMISSION["top5"])
            label = "ILSVRC-2014 submission: 7 nets, each at its own Q, dense"
            table.lines.append(_line(label, paper, record))
        result.append(table)
    others = [
        _line(describe(row), None, record) for row, record in by_row.items() if row not in used
    ]
    others += [_line(describe(row), None, record) for row, record in unshown]
    located_tables, located_others = localization_tables(located)
    if located and not records:  # localisation only: no blank classification tables
        result = []
    return PaperReport(result + located_tables, others + located_others)


def measured_on(record: dict) -> str:
    """What an evaluation was measured on: its data, images and flips.

    Example:
        >>> measured_on({"data": "digits:test", "images": 360, "flip": False})
        'digits:test, 360 images, no flips'
    """
    parts = [str(record.get("data") or "data not recorded")]
    if isinstance(record.get("images"), int):
        parts.append(f"{record['images']} images")
    if record.get("flip") is False:
        parts.append("no flips")
    return ", ".join(parts)


def _line(label: str, paper, record: dict | None) -> Line:
    if record is None:
        return Line(label, paper)
    yours = (100 * record["top1_error"], 100 * record["top5_error"])
    return Line(label, paper, yours, record["file"], measured_on(record))


def localization_tables(records: Sequence[dict]) -> tuple[list[Table], list[Line]]:
    """Tables 8 and 9 from localisation records, the paper's rows first.

    A protocol-1 row of a record fills the Table 8 row of its design (configuration,
    regression, fine-tuning, S); a protocol-2 row the Table 9 row of its nets (S and Q set
    of each). Rows that fit none are returned as other lines, each labelled with its
    nets and scales; every line says what it was measured on.
    """
    from kvgg.evaluate.paper_numbers import TABLE8, TABLE9

    table8 = Table("table8", "Table 8: localisation, centre crop, ground-truth class",
                   unit="localisation error %")  # fmt: skip
    table9 = Table("table9", "Table 9: localisation, dense, top-5 classes, greedy merging",
                   unit="top-5 localisation error %")  # fmt: skip
    if not records:
        return [], []
    found8: dict = {}
    found9: dict = {}
    others: list[Line] = []
    for record in records:
        on = f"{measured_on(record)}, threshold {record.get('threshold', '?')}"
        for row in record["rows"]:
            nets = row.get("nets") or []
            label = row["setting"] if row["protocol"] == 2 else f"centre crop, {row['setting']}"
            line = Line(label, None, (100 * row["error"],), record["file"], on)
            key8 = _design(nets[0]) if row["protocol"] == 1 and len(nets) == 1 else None
            key9 = _table9_key(nets) if row["protocol"] == 2 else None
            if key8 in TABLE8 and key8 not in found8:
                found8[key8] = line
            elif key9 in TABLE9 and key9 not in found9:
                found9[key9] = line
            else:
                others.append(line)
    for key, paper in TABLE8.items():
        config, regression, fine_tune, scale = key
        label = f"{config}, {fine_tune} layers, {regression.upper()}, S={scale}"
        table8.lines.append(_located(label, paper, found8.get(key)))
    for key, (paper, _) in TABLE9.items():
        label = "D, all layers, PCR, dense: " + " + ".join(
            f"S={scale} Q={','.join(map(str, qs))}" for scale, qs in key
        )
        table9.lines.append(_located(label, paper, found9.get(key)))
    return [table8, table9], others


def _design(net: dict):
    return (net.get("config"), net.get("regression"), net.get("fine_tune"), net.get("train_scale"))


def _table9_key(nets):
    if not nets or any(_design(n)[:3] != ("D", "pcr", "all") for n in nets):
        return None
    return tuple(sorted((n.get("train_scale"), tuple(sorted(n.get("scales", [])))) for n in nets))


def _located(label: str, paper: float, line: Line | None) -> Line:
    if line is None:
        return Line(label, (paper,))
    return Line(label, (paper,), line.yours, line.source, line.on)


def _pair(values, digits: int) -> str:
    return "" if values is None else " / ".join(f"{v:.{digits}f}" for v in values)


def format_text(report: PaperReport) -> str:
    """The report as plain text (what `kvgg report` prints): errors in %, top-1 / top-5."""
    blocks = []
    for title, lines in _sections(report):
        width = max(len(line.label) for line in lines)
        rows = [f"{'':<{width}}  {'paper':>13}  {'yours':>15}  measured on"]
        for line in lines:
            paper, yours = _pair(line.paper, 1), _pair(line.yours, 2)
            rows.append(
                f"{line.label:<{width}}  {paper:>13}  {yours:>15}  {line.on or ''}".rstrip()
            )
        blocks.append("\n".join([title, *rows]))
    return "\n\n".join(blocks)


def format_markdown(report: PaperReport) -> str:
    """The report as Markdown tables (top-1 / top-5 error %, paper's and yours)."""
    blocks = []
    for title, lines in _sections(report):
        rows = [f"### {title}", "", "| row | paper | yours | measured on |", "|---|---|---|---|"]
        rows += [
            f"| {line.label} | {_pair(line.paper, 1)} | {_pair(line.yours, 2)} | {line.on or ''} |"
            for line in lines
        ]
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks) + "\n"


def to_json(report: PaperReport) -> dict:
    """The report as JSON-ready data: per table, its lines with paper and user errors in %."""

    def line(item: Line) -> dict:
        def pair(v):
            if v is None:
                return None
            return {"top1": v[0], "top5": v[1]} if len(v) == 2 else {"error": v[0]}

        return {
            "row": item.label,
            "paper": pair(item.paper),
            "yours": pair(item.yours),
            "source": item.source,
            "measured_on": item.on,
        }

    tables_, others = report
    return {
        "unit": "error %, ILSVRC-2012 val",
        "tables": [
            {"name": t.name, "title": t.title, "unit": t.unit, "lines": [line(x) for x in t.lines]}
            for t in tables_
        ],
        "other": [line(x) for x in others],
    }


def _sections(report):
    tables_, others = report
    sections = [(f"{t.title}, {t.unit}", t.lines) for t in tables_]
    classified = [line for line in others if line.yours is None or len(line.yours) == 2]
    located = [line for line in others if line not in classified]
    if classified:
        sections.append(
            ("Other evaluations (no row in the paper), top-1 / top-5 error %", classified)
        )
    if located:
        sections.append(("Other localisation evaluations (no row in the paper), error %", located))
    return sections


def plot(report: PaperReport, path: str | Path) -> Path:
    """Write `draw`'s picture to ``path`` (PNG, PDF or SVG by its suffix)."""
    import matplotlib.pyplot as plt

    from kvgg.io import write_atomic

    figure = draw(report)

    def write(partial: Path):
        figure.savefig(partial, format=Path(path).suffix.lstrip(".") or "png", dpi=120)

    try:
        return write_atomic(path, write)
    finally:
        plt.close(figure)


def draw(report: PaperReport):
    """Draw your errors beside the paper's: top-1 and top-5 by row; localisation apart.

    Only rows with a result of yours are drawn (with the paper's bar where it has one, and
    a "paper" legend entry only then). Each bar is labelled with its value, so a 0.00 error
    still shows; when one error dwarfs the others (a 93% beside 2%) the axis is
    logarithmic above 1% so that the small bars stay readable. Row labels are wrapped and
    slanted so that they do not overlap. Returns the matplotlib figure (close it after).
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tables_, others = report
    drawn = [x for t in tables_ for x in t.lines if x.yours is not None]
    drawn += [x for x in others if x.yours is not None]
    if not drawn:
        raise ValueError("No evaluation to draw: run `kvgg evaluate` on a run directory first.")
    classified = [x for x in drawn if len(x.yours) == 2]
    located = [x for x in drawn if len(x.yours) == 1]
    panels = [(classified, k, f"{m} error %") for k, m in enumerate(("top-1", "top-5"))]
    panels = (panels if classified else []) + (
        [(located, 0, "localisation error %")] if located else []
    )
    most = max(len(lines) for lines, _, _ in panels)
    figure, axes = plt.subplots(
        1, len(panels), figsize=(max(6, 0.9 * most + 2) * len(panels), 6), squeeze=False
    )
    for ax, (lines, k, title) in zip(axes[0], panels, strict=True):
        x = np.arange(len(lines))
        paper = np.array([np.nan if x_.paper is None else x_.paper[k] for x_ in lines])
        yours = np.array([x_.yours[k] for x_ in lines])
        has_paper = bool(np.isfinite(paper).any())
        shift, width = (0.2, 0.4) if has_paper else (0.0, 0.6)
        if has_paper:
            bars = ax.bar(x - shift, np.nan_to_num(paper), width, label="paper", color="0.7")
            _label_bars(ax, bars, paper)
        bars = ax.bar(x + shift, yours, width, label="yours", color="tab:blue", edgecolor="navy")
        _label_bars(ax, bars, yours)
        values = np.concatenate([yours, paper[np.isfinite(paper)]])
        positive = values[values > 0]
        if positive.size and values.max() > 10 * max(positive.min(), 1.0):
            ax.set_yscale("symlog", linthresh=1.0)  # one large error would flatten the rest
        ax.set_ylim(bottom=0, top=values.max() * (3 if ax.get_yscale() == "symlog" else 1.15) + 1)
        names = [x_.label for x_ in lines]  # the same row measured twice: say on what
        names = [
            f"{name} ({x_.on})" if names.count(name) > 1 and x_.on else name
            for name, x_ in zip(names, lines, strict=True)
        ]
        labels = [textwrap.fill(name, 22) for name in names]
        ax.set_xticks(x, labels, fontsize=7, rotation=35, ha="right", rotation_mode="anchor")
        ax.set_ylabel(title)
        ax.set_title(title.replace(" %", "") + (", yours beside the paper's" if has_paper else ""))
        if has_paper:
            ax.legend()
    figure.tight_layout()
    return figure


def _label_bars(ax, bars, values) -> None:
    """Write each bar's value above it (a bar at 0.00 is otherwise invisible)."""
    for bar, value in zip(bars, values, strict=True):
        if value == value:  # not NaN
            ax.annotate(
                f"{value:.2f}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=6,
            )


def write_report(report: PaperReport, path: str | Path) -> Path:
    """Write the report to ``path`` in the format its suffix names.

    ``.md`` Markdown, ``.json`` JSON, ``.png``/``.pdf``/``.svg`` the picture (`plot`).
    """
    from kvgg.io import write_text

    suffix = Path(path).suffix.lower()
    if suffix == ".md":
        return write_text(path, format_markdown(report))
    if suffix == ".json":
        return write_text(path, json.dumps(to_json(report), indent=1) + "\n")
    if suffix in (".png", ".pdf", ".svg"):
        return plot(report, path)
    raise ValueError(
        f"-o/--out must end in .md, .json, .png, .pdf or .svg. Received: out={str(path)!r}"
    )


def paper_report(
    paths: Sequence[str | Path],
    outs: Sequence[str | Path] = (),
    *,
    echo: Callable[[str], None] = print,
    warn: Callable[[str], None] | None = None,
) -> PaperReport:
    """Gather the evaluations of ``paths``, print the tables, then write ``outs``.

    Args:
        paths: run directories, folders of runs, or JSON reports (see `gather`).
        outs: files to write (format by suffix, see `write_report`).
        echo: prints the text report, then one line per file written.
        warn: prints one line per damaged record skipped (default: ``echo``).

    Returns:
        The `PaperReport`.

    Example:
        Not run as a doctest: it needs run directories of trained ImageNet models.

        >>> paper_report(["runs/vgg16", "runs/vgg19"], ["table.md", "errors.png"])  # doctest: +SKIP
    """
    for out in outs:  # a bad suffix is found before anything is printed or written
        if Path(out).suffix.lower() not in (".md", ".json", ".png", ".pdf", ".svg"):
            write_report(PaperReport([], []), out)
    from kvgg.io import check_outputs

    check_outputs(outs, record_files(paths))
    skipped: list[str] = []
    records = gather(paths, skipped)
    if not records:
        why = f" ({skipped[0]}{' ...' if len(skipped) > 1 else ''})" if skipped else ""
        raise ValueError(
            f"No evaluation recorded in {', '.join(map(str, paths))}{why}: run `kvgg evaluate "
            "--model RUN ...` first (it records into RUN/evaluations/)."
        )
    for line in skipped:
        (warn or echo)(line)
    result = tables(records)
    echo(format_text(result))
    for out in outs:
        echo(f"Wrote {write_report(result, out)}")
    return result
