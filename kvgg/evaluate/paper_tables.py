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
from kvgg.evaluate.records import EVALUATIONS

METHOD_NAMES = {"dense": "dense", "multicrop": "multi-crop", "both": "multi-crop & dense"}
_REQUIRED = ("method", "scales", "flip", "top1_error", "top5_error", "per_model")


@dataclass
class Line:
    """One row of a report table.

    Attributes:
        label: the row as the paper writes it (configuration, S, Q, method).
        paper: the paper's (top-1, top-5) error %, or None.
        yours: the matching evaluation's (top-1, top-5) error %, or None (not run).
        source: the record the user's numbers come from.
    """

    label: str
    paper: tuple[float, float] | None
    yours: tuple[float, float] | None = None
    source: str | None = None


@dataclass
class Table:
    """A table of the report: its name (``table3`` ...), title and lines."""

    name: str
    title: str
    lines: list[Line] = field(default_factory=list)


class PaperReport(NamedTuple):
    """The paper's tables with the user's results, and the evaluations that fit no row."""

    tables: list[Table]
    others: list[Line]


def gather(paths: Sequence[str | Path]) -> list[dict]:
    """Read evaluation records from run directories, folders of runs, or JSON reports.

    Args:
        paths: a run directory (its ``evaluations/*.json``), a folder of run directories
            (``runs/``), or a JSON file written by ``kvgg evaluate -o``.

    Returns:
        The records, each with ``"file"`` added; the same record found in several run
        directories (a fusion) is kept once.

    Raises:
        FileNotFoundError: for a path that does not exist.
        ValueError: for a JSON file that is not an evaluation report.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"No run directory or report at {str(path)!r}.")
        if path.is_file():
            files.append(path)
        elif (path / EVALUATIONS).is_dir():
            files += sorted((path / EVALUATIONS).glob("*.json"))
        else:
            files += sorted(path.glob(f"*/{EVALUATIONS}/*.json"))
    records, seen = [], set()
    for file in files:
        data = _read(file)
        identity = json.dumps({k: v for k, v in data.items() if k != "seconds"}, sort_keys=True)
        if identity not in seen:
            seen.add(identity)
            records.append(data | {"file": str(file)})
    return records


def _read(file: Path) -> dict:
    try:
        data = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{str(file)!r} is not a readable JSON report: {error}") from None
    missing = [key for key in _REQUIRED if not isinstance(data, dict) or key not in data]
    if missing:
        raise ValueError(
            f"{str(file)!r} is not a `kvgg evaluate` report (missing {', '.join(missing)}); "
            "give run directories or files written by `kvgg evaluate -o REPORT.json`."
        )
    for key in ("top1_error", "top5_error"):
        value = data[key]
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(
                f"{str(file)!r}: {key} must be a fraction in [0, 1]. Received: {key}={value!r}"
            )
    return data


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
    scales = {tuple(model.get("scales", record["scales"])) for model in record["per_model"]}
    test = scales.pop() if len(scales) == 1 else tuple(record["scales"])
    order = sorted(range(len(configs)), key=lambda i: configs[i])
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
    """
    configs, train_scales, test, method = row

    def scale(s):  # None: a model whose file does not say (imported weights)
        return f"[{s[0]};{s[1]}]" if isinstance(s, tuple) else "?" if s is None else str(s)

    shown = sorted({scale(s) for s in train_scales})
    return (
        f"{' & '.join(configs)}, S={'/'.join(shown)}, Q={','.join(map(str, test))}, "
        f"{METHOD_NAMES.get(method, method)}"
    )


def tables(records: Sequence[dict]) -> PaperReport:
    """Lay records out as the paper's tables; the rest as a list of other evaluations.

    A record fills every row it matches (Table 4's and Table 5's D/E dense rows are the
    same evaluation). When several records match a row, the one with flips wins, then the
    last given.

    Returns:
        A `PaperReport`: the tables in the paper's order, and lines for the records that
        fit no row.
    """
    by_row: dict[Row, dict] = {}
    for record in sorted(records, key=lambda r: bool(r.get("flip"))):
        by_row[row_of(record)] = record
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
    return PaperReport(result, others)


def _line(label: str, paper, record: dict | None) -> Line:
    if record is None:
        return Line(label, paper)
    yours = (100 * record["top1_error"], 100 * record["top5_error"])
    return Line(label, paper, yours, record["file"])


def _pair(values, digits: int) -> str:
    return "" if values is None else f"{values[0]:.{digits}f} / {values[1]:.{digits}f}"


def format_text(report: PaperReport) -> str:
    """The report as plain text (what `kvgg report` prints): errors in %, top-1 / top-5."""
    blocks = []
    for title, lines in _sections(report):
        width = max(len(line.label) for line in lines)
        rows = [f"{'':<{width}}  {'paper':>13}  {'yours':>15}"]
        for line in lines:
            paper, yours = _pair(line.paper, 1), _pair(line.yours, 2)
            rows.append(f"{line.label:<{width}}  {paper:>13}  {yours:>15}".rstrip())
        blocks.append("\n".join([title, *rows]))
    return "\n\n".join(blocks)


def format_markdown(report: PaperReport) -> str:
    """The report as Markdown tables (top-1 / top-5 error %, paper's and yours)."""
    blocks = []
    for title, lines in _sections(report):
        rows = [f"### {title}", "", "| row | paper | yours |", "|---|---|---|"]
        rows += [
            f"| {line.label} | {_pair(line.paper, 1)} | {_pair(line.yours, 2)} |" for line in lines
        ]
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks) + "\n"


def to_json(report: PaperReport) -> dict:
    """The report as JSON-ready data: per table, its lines with paper and user errors in %."""

    def line(item: Line) -> dict:
        def pair(v):
            return None if v is None else {"top1": v[0], "top5": v[1]}

        return {
            "row": item.label,
            "paper": pair(item.paper),
            "yours": pair(item.yours),
            "source": item.source,
        }

    tables_, others = report
    return {
        "unit": "error %, ILSVRC-2012 val",
        "tables": [
            {"name": t.name, "title": t.title, "lines": [line(x) for x in t.lines]} for t in tables_
        ],
        "other": [line(x) for x in others],
    }


def _sections(report):
    tables_, others = report
    sections = [(f"{t.title}, top-1 / top-5 error %", t.lines) for t in tables_]
    if others:
        sections.append(("Other evaluations (no row in the paper), top-1 / top-5 error %", others))
    return sections


def plot(report: PaperReport, path: str | Path) -> Path:
    """Draw top-1 and top-5 error by configuration and method: yours beside the paper's.

    Only rows with a result of yours are drawn (with the paper's bar where it has one).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from kvgg.io import write_atomic

    tables_, others = report
    lines = [x for t in tables_ for x in t.lines if x.yours is not None]
    lines += [x for x in others if x.yours is not None]
    if not lines:
        raise ValueError("No evaluation to draw: run `kvgg evaluate` on a run directory first.")
    x = np.arange(len(lines))
    figure, axes = plt.subplots(1, 2, figsize=(max(8, 1.1 * len(lines) + 4), 5), squeeze=False)
    for k, (ax, metric) in enumerate(zip(axes[0], ("top-1", "top-5"), strict=True)):
        paper = [np.nan if x_.paper is None else x_.paper[k] for x_ in lines]
        yours = [x_.yours[k] for x_ in lines]
        ax.bar(x - 0.2, paper, 0.4, label="paper", color="0.7")
        ax.bar(x + 0.2, yours, 0.4, label="yours", color="tab:blue")
        ax.set_xticks(x, [x_.label.replace(", ", "\n") for x_ in lines], fontsize=7)
        ax.set_ylabel(f"{metric} error %")
        ax.set_title(f"{metric} error by configuration and method")
        ax.legend()
    figure.tight_layout()

    def write(partial: Path):
        figure.savefig(partial, format=Path(path).suffix.lstrip(".") or "png", dpi=120)

    try:
        return write_atomic(path, write)
    finally:
        plt.close(figure)


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
) -> PaperReport:
    """Gather the evaluations of ``paths``, print the tables, then write ``outs``.

    Args:
        paths: run directories, folders of runs, or JSON reports (see `gather`).
        outs: files to write (format by suffix, see `write_report`).
        echo: prints the text report, then one line per file written.

    Returns:
        The `PaperReport`.

    Example:
        Not run as a doctest: it needs run directories of trained ImageNet models.

        >>> paper_report(["runs/vgg16", "runs/vgg19"], ["table.md", "errors.png"])  # doctest: +SKIP
    """
    for out in outs:  # a bad suffix is found before anything is printed or written
        if Path(out).suffix.lower() not in (".md", ".json", ".png", ".pdf", ".svg"):
            write_report(PaperReport([], []), out)
    records = gather(paths)
    if not records:
        raise ValueError(
            f"No evaluation recorded in {', '.join(map(str, paths))}: run `kvgg evaluate "
            "--model RUN ...` first (it records into RUN/evaluations/)."
        )
    result = tables(records)
    echo(format_text(result))
    for out in outs:
        echo(f"Wrote {write_report(result, out)}")
    return result
