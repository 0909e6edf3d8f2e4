"""Reports laid out like the paper's Table 11, with the paper's numbers beside the user's."""

from __future__ import annotations

import json
from pathlib import Path

from kvgg.evaluate.paper_numbers import TABLE11, TABLE11_METRICS
from kvgg.io import write_text

DATASETS = {
    "voc2007": "VOC-2007",
    "voc2012": "VOC-2012",
    "caltech101": "Caltech-101",
    "caltech256": "Caltech-256",
}

PAPER_TABLE_11 = TABLE11  # (value %, std over splits %) per features and dataset
PAPER_METRICS = TABLE11_METRICS


def table_11(results: list[dict]) -> dict:
    """Gather transfer results into the layout of Table 11.

    Args:
        results: dicts with ``dataset`` (a key of `DATASETS`), ``features`` (the row label:
            "D", "E", "D & E" or any name), ``value`` and ``std`` (in %, std may be None)
            and ``metric`` (what was measured), as `kvgg.transfer.run_transfer` returns
            in its ``"table"`` entry.

    Returns:
        ``{"columns": {dataset: {"kvgg": metric, "paper": metric}}, "rows": [{"features":
        label, dataset: {"kvgg": {"value", "std"} | None, "paper": {...} | None}}]}``.

    Example:
        >>> table_11([{"dataset": "voc2007", "features": "D", "value": 88.0, "std": None,
        ...            "metric": "mAP"}])["rows"][0]["voc2007"]["paper"]
        {'value': 89.3, 'std': None}
    """
    for result in results:
        if result["dataset"] not in DATASETS:
            raise ValueError(
                f"Unknown dataset {result['dataset']!r}; expected one of {list(DATASETS)}."
            )
    labels = list(PAPER_TABLE_11)
    labels += [r["features"] for r in results if r["features"] not in labels]
    labels = list(dict.fromkeys(labels))
    ours = {(r["features"], r["dataset"]): r for r in results}
    columns = {
        name: {
            "kvgg": next((r["metric"] for r in results if r["dataset"] == name), None),
            "paper": PAPER_METRICS[name],
        }
        for name in DATASETS
    }
    rows = []
    for label in labels:
        row = {"features": label}
        for name in DATASETS:
            mine = ours.get((label, name))
            paper = PAPER_TABLE_11.get(label, {}).get(name)
            row[name] = {
                "kvgg": None if mine is None else {"value": mine["value"], "std": mine["std"]},
                "paper": None if paper is None else {"value": paper[0], "std": paper[1]},
            }
        rows.append(row)
    return {"columns": columns, "rows": rows}


def format_markdown(table: dict) -> str:
    """Render a `table_11` dict as a markdown table, kvgg's number beside the paper's.

    Example:
        >>> results = [{"dataset": "voc2007", "features": "D", "value": 88.0, "std": None,
        ...             "metric": "mAP"}]  # as run_transfer(recipe)["table"]
        >>> print(format_markdown(table_11(results)).splitlines()[2])  # the row of D
        | D | 88.0 | 89.3 | - | 89.0 | - | 91.8 +- 1.0 | - | 85.0 +- 0.2 |
    """
    names = list(DATASETS)
    header = "| features | " + " | ".join(f"{DATASETS[n]} kvgg | paper" for n in names) + " |"
    lines = [header, "|---" * (1 + 2 * len(names)) + "|"]
    for row in table["rows"]:
        cells = []
        for name in names:
            cells += [_cell(row[name]["kvgg"]), _cell(row[name]["paper"])]
        lines.append(f"| {row['features']} | " + " | ".join(cells) + " |")
    lines.append("")
    for name in names:
        column = table["columns"][name]
        if column["kvgg"]:
            lines.append(f"- {DATASETS[name]}: kvgg {column['kvgg']}; paper {column['paper']}.")
    return "\n".join(lines) + "\n"


def write_report(results: list[dict], directory) -> dict:
    """Write ``report.md`` and ``report.json`` (Table 11 layout) atomically into `directory`.

    Example:
        >>> import tempfile
        >>> results = [{"dataset": "voc2007", "features": "D", "value": 88.0, "std": None,
        ...             "metric": "mAP"}]  # as run_transfer(recipe)["table"]
        >>> folder = tempfile.mkdtemp()
        >>> _ = write_report(results, folder)
        >>> sorted(path.name for path in Path(folder).iterdir())
        ['report.json', 'report.md']
    """
    table = table_11(results)
    directory = Path(directory)
    write_text(directory / "report.json", json.dumps(table, indent=1) + "\n")
    write_text(directory / "report.md", "# Transfer (paper Table 11)\n\n" + format_markdown(table))
    return table


def _cell(entry) -> str:
    if entry is None:
        return "-"
    if entry["std"] is None:
        return f"{entry['value']:.1f}"
    return f"{entry['value']:.1f} +- {entry['std']:.1f}"
