"""The transfer experiments of the paper's Appendix B, end to end: `run_transfer`.

models -> descriptors of the train and test images -> one-vs-rest linear SVMs (C chosen on
20% held out) -> VOC mean AP / Caltech mean class recall -> ``results.json``, a Table 11
report and, for VOC, result files in the evaluation server's format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kvgg.data.sources import caltech, voc
from kvgg.data.voc_actions import REGIONS, voc_action
from kvgg.evaluate.files import load_classifier
from kvgg.io import check_outputs, resolve_model_file, write_text
from kvgg.recipe import to_dict, to_yaml
from kvgg.transfer.actions import action_results, write_action_results, write_table_12
from kvgg.transfer.features import default_cache_dir, extract_features, fuse
from kvgg.transfer.metrics import mean_class_recall, voc_mean_average_precision
from kvgg.transfer.recipe import TransferRecipe, load_transfer_recipe
from kvgg.transfer.report import write_report
from kvgg.transfer.svm import fit_one_vs_rest


def run_transfer(
    recipe: TransferRecipe | str | Path, overrides: Sequence[str] = (), *, progress: bool = True
) -> dict:
    """Run a transfer recipe and write its results, report and submission files.

    Writes into ``recipe.out_dir`` (default ``runs/transfer/<name>``): ``recipe.yaml``,
    ``results.json`` (every number, per class and per split), ``report.md`` and
    ``report.json`` (Table 11 layout, the paper's numbers beside), and for VOC
    ``<row>/results/VOC<year>/Main/comp2_cls_<split>_<class>.txt`` per model row.

    Args:
        recipe: a `TransferRecipe`, or the path of its YAML file.
        overrides: ``["features.scales=[256]", ...]`` applied when `recipe` is a path.
        progress: show progress bars during feature extraction.

    Returns:
        The content of ``results.json``: ``{"name", "dataset", "out_dir", "rows": {label:
        metrics}, "table": [entries for kvgg.transfer.table_11], "recipe"}``.

    Example:
        Not run as a doctest: it needs PASCAL VOC on disk and ImageNet-trained models.

        >>> results = run_transfer("recipes/transfer/voc2007.yaml")  # doctest: +SKIP
        >>> results["rows"]["D"]["map_11point"]  # doctest: +SKIP
    """
    recipe_file = None if isinstance(recipe, TransferRecipe) else recipe
    if not isinstance(recipe, TransferRecipe):
        recipe = load_transfer_recipe(recipe, overrides)
    out = Path(recipe.out_dir or Path("runs") / "transfer" / recipe.name)
    written = [out / name for name in ("recipe.yaml", "results.json", "report.md", "report.json")]
    models = [resolve_model_file(path) for path in recipe.models.values() if path]
    check_outputs(written, [recipe_file, *models])
    write_text(out / "recipe.yaml", to_yaml(recipe))
    if recipe.data.dataset == "voc2012_action":
        rows, table = _run_voc_action(recipe, out, progress)
    elif recipe.data.dataset.startswith("voc"):
        rows, table = _run_voc(recipe, out, progress)
    else:
        rows, table = _run_caltech(recipe, progress)
    results = {
        "name": recipe.name,
        "dataset": recipe.data.dataset,
        "out_dir": str(out),
        "rows": rows,
        "table": table,
        "recipe": to_dict(recipe),
    }
    write_text(out / "results.json", json.dumps(results, indent=1) + "\n")
    if recipe.data.dataset == "voc2012_action":
        write_table_12(rows, table, out)
    else:
        write_report(table, out)
    return results


def _run_voc_action(recipe, out, progress):
    """Table 12: per model row, SVMs on the image and on image + box; AP per action."""
    data = recipe.data
    sources = {
        f"{role}_{region}": voc_action(data.root, split, region)
        for role, split in (("train", data.train), ("test", data.test))
        for region in REGIONS
    }
    train, test = sources["train_image"], sources["test_image"]
    check_disjoint(train, test)
    rows = {}
    for label, feats in _features(recipe, sources, progress).items():
        settings = action_results(
            feats,
            train.labels,
            test.labels,
            lambda x, y: _fit(recipe, x, y, None),
            train.class_names,
        )
        for setting, row in settings.items():
            folder = out / _slug(label) / _slug(setting)
            written = write_action_results(folder, data.test, test, row.pop("scores"))
            row["submission"] = str(written)
        rows[label] = settings
    metric = f"mAP on {data.test} (trained on {data.train}), VOC2010+ area AP"
    return rows, metric


def _run_voc(recipe, out, progress):
    data = recipe.data
    year = int(data.dataset[3:])
    splits = {"train": data.train, "test": data.test}
    if data.check_train:
        splits |= {"check_train": data.check_train, "check_test": data.check_test}
    sources = {role: voc(data.root, year, split) for role, split in splits.items()}
    check_disjoint(sources["train"], sources["test"])
    if data.check_train:
        check_disjoint(sources["check_train"], sources["check_test"])
    features = _features(recipe, sources, progress)
    rows, table = {}, []
    for label, feats in features.items():
        row = {}
        scores = _voc_scores(recipe, sources["train"], feats["train"], feats["test"], row)
        folder = out / _slug(label)
        row["submission"] = str(write_voc_results(folder, year, data.test, sources["test"], scores))
        if sources["test"].annotated:
            row |= _voc_metrics(scores, sources["test"])
        if data.check_train:
            check = {}
            check_scores = _voc_scores(
                recipe, sources["check_train"], feats["check_train"], feats["check_test"], check
            )
            row["check"] = check | _voc_metrics(check_scores, sources["check_test"])
            row["check"]["splits"] = f"trained on {data.check_train}, scored on {data.check_test}"
        rows[label] = row
        entry = _voc_table_entry(data, year, label, row)
        if entry:
            table.append(entry)
    return rows, table


def check_disjoint(train, test) -> None:
    """Refuse a training split and a test split that share a sample (a VOC image, or a
    VOC-2012 action person): its score would be measured on what the SVMs learnt.

    Args:
        train, test: sources with ``image_ids`` (and ``person_indices`` for actions).

    Raises:
        ValueError: naming the first shared samples, their count and both splits.
    """

    def samples(source):
        people = getattr(source, "person_indices", None)
        ids = source.image_ids
        return list(zip(ids, people, strict=True)) if people is not None else list(ids)

    shared = set(samples(train)) & set(samples(test))
    if not shared:
        return
    named = [
        f"{item[0]} person {item[1]}" if isinstance(item, tuple) else str(item)
        for item in sorted(shared)[:3]
    ]
    more = f" and {len(shared) - 3} more" if len(shared) > 3 else ""
    raise ValueError(
        f"{', '.join(named)}{more} are in both the training split ({train.name}) and the "
        f"test split ({test.name}); a test score on training samples measures nothing: "
        "give disjoint splits."
    )


def _voc_scores(recipe, source, train_features, test_features, row):
    svms = _fit(recipe, train_features, source.labels, source.difficult)
    row["c"], row["validation"] = svms.c, {str(c): v for c, v in svms.validation.items()}
    return svms.decision_function(test_features)


def _voc_metrics(scores, source):
    metrics = {}
    for method in ("11point", "area"):
        mean, per_class = voc_mean_average_precision(
            scores, source.labels, source.difficult, method=method
        )
        metrics[f"map_{method}"] = 100 * mean
        metrics[f"ap_{method}"] = {  # None: no positive image of the class in this split
            name: None if np.isnan(ap) else 100 * ap
            for name, ap in zip(source.class_names, per_class.tolist(), strict=True)
        }
    return metrics


def _voc_table_entry(data, year, label, row):
    if "map_11point" in row:
        method = "11point" if year == 2007 else "area"
        name = "VOC2007 11-point AP" if method == "11point" else "VOC2010+ area AP"
        metric = f"mAP on {data.test}, {name}"
        return _entry(data.dataset, label, row[f"map_{method}"], None, metric)
    if "check" in row:
        metric = (
            f"mAP on {data.check_test} (trained on {data.check_train}), VOC2010+ area AP; "
            f"{data.test} results written for the evaluation server"
        )
        return _entry(data.dataset, label, row["check"]["map_area"], None, metric)
    return None


def _run_caltech(recipe, progress):
    data = recipe.data
    kind = int(data.dataset[len("caltech") :])
    sources = {}
    for seed in data.seeds:
        for subset in ("train", "test"):
            sources[f"{subset}{seed}"] = caltech(data.root, kind, subset, seed, data.split_dir)
    features = _features(recipe, sources, progress)
    rows, table = {}, []
    for label, feats in features.items():
        splits = []
        for seed in data.seeds:
            train, test = sources[f"train{seed}"], sources[f"test{seed}"]
            targets = np.eye(train.num_classes)[train.labels]
            svms = _fit(recipe, feats[f"train{seed}"], targets, None)
            predictions = svms.predict(feats[f"test{seed}"])
            recall = 100 * mean_class_recall(predictions, test.labels, test.num_classes)
            splits.append(
                {"seed": seed, "mean_class_recall": recall, "c": svms.c,
                 "split_file": str(train.split_file), "train_images": len(train),
                 "test_images": len(test)}
            )  # fmt: skip
        recalls = [split["mean_class_recall"] for split in splits]
        # Sample standard deviation (N - 1), as MATLAB's std, over the splits.
        std = float(np.std(recalls, ddof=1)) if len(recalls) > 1 else 0.0
        rows[label] = {"mean_class_recall": float(np.mean(recalls)), "std": std, "splits": splits}
        metric = f"mean class recall, mean +- std over {len(recalls)} splits"
        table.append(_entry(data.dataset, label, float(np.mean(recalls)), std, metric))
    return rows, table


def _features(recipe, sources, progress) -> dict[str, dict[str, np.ndarray]]:
    """Descriptors per row label (each model, then the fusion) and per source role."""
    settings = recipe.features
    rows = {}
    for label, path in recipe.models.items():
        model, _, _ = load_classifier(path)
        rows[label] = {
            role: extract_features(
                model,
                source,
                scales=settings.scales,
                combine=settings.combine,
                flip=settings.flip,
                batch_size=settings.batch_size,
                cache_dir=settings.cache_dir or default_cache_dir(),
                progress=progress,
            )
            for role, source in sources.items()
        }
    if recipe.fuse:
        rows[" & ".join(recipe.fuse)] = {
            role: fuse(*(rows[label][role] for label in recipe.fuse)) for role in sources
        }
    return rows


def _fit(recipe, features, targets, ignore):
    svm = recipe.svm
    return fit_one_vs_rest(
        features,
        targets,
        ignore=ignore,
        c=svm.c,
        c_values=svm.c_values,
        holdout=svm.holdout,
        seed=svm.seed,
    )


def write_voc_results(folder, year: int, split: str, source, scores) -> Path:
    """Write classification results in the VOC devkit / server format, one file per class.

    ``<folder>/results/VOC<year>/Main/comp2_cls_<split>_<class>.txt`` with lines
    ``<image id> <confidence>`` (comp2: trained on data outside VOC, here ImageNet). The
    confidences are written exactly (shortest round-trip decimal), so the files rank the
    images as the scores did: a fixed number of decimals would tie close scores.

    Returns:
        The ``Main`` folder holding the files.

    Example:
        >>> import tempfile, types
        >>> test = types.SimpleNamespace(image_ids=["2008_000001", "2008_000002"],
        ...                              class_names=["cat", "dog"])  # e.g. a VOC source
        >>> scores = np.array([[0.5, -1.25], [-0.75, 2.0000003]], "float32")
        >>> main = write_voc_results(tempfile.mkdtemp(), 2012, "test", test, scores)
        >>> print((main / "comp2_cls_test_dog.txt").read_text(), end="")
        2008_000001 -1.25
        2008_000002 2.000000238418579
    """
    main = Path(folder) / "results" / f"VOC{year}" / "Main"
    for column, name in enumerate(source.class_names):
        column_scores = np.asarray(scores)[:, column].tolist()  # exact Python floats
        lines = [f"{i} {s!r}" for i, s in zip(source.image_ids, column_scores, strict=True)]
        write_text(main / f"comp2_cls_{split}_{name}.txt", "\n".join(lines) + "\n")
    return main


def _entry(dataset, label, value, std, metric):
    return {"dataset": dataset, "features": label, "value": value, "std": std, "metric": metric}


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in label.replace(" & ", "+"))
