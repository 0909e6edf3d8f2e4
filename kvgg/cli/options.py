"""Options, option types and help texts shared by the `kvgg` commands (one home for each).

The vocabulary every command shares: ``--model PATH`` (a ``.keras`` file or a run
directory), ``-o/--out PATH`` for whatever a command writes, ``--scales Q,Q,...``,
``--config``, ``--flip/--no-flip``. Older spellings keep working for one release: they
are hidden from ``--help`` and print a deprecation line on stderr (`renamed_option`,
`LegacyArguments`, `warn_deprecated`: the one place that handles them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import click


class Scales(click.ParamType):
    """Comma-separated test scales; bad values end in the group's one-line error."""

    name = "Q,Q,..."

    def convert(self, value, param, ctx):
        from kvgg.evaluate.scales import parse_scales

        return value if isinstance(value, tuple) else parse_scales(value)


MODEL_HELP = "A .keras classifier, or a `kvgg fit` run directory (its model.keras)."
SCALES_HELP = (
    "Test scales Q (smallest image side), comma-separated. Default: the paper's preset for "
    "the model's training scale: {S-32, S, S+32} for a fixed S, {S_min, middle, S_max} when "
    "jittered, {256, 384, 512} when unknown."
)
FLIP_HELP = (
    "Also score the mirrored image and average. Default: as the model was trained (its "
    "recipe's data.flip, saved in the model file); flip for models that do not say."
)
SET_HELP = "Override a recipe value, e.g. --set optimizer.lr=0.001 (repeatable; YAML values)."
SMOKE_HELP = "Apply the recipe's smoke section: a tiny local run that checks it end to end."


def given(**options) -> dict:
    """The options the user gave, as keyword arguments: one left out (None) is not passed,
    so the library function's own default applies. The one way every command falls back
    to a default: the library keeps each default, the CLI names none.

    Example:
        >>> given(threshold=None, max_pixels=1_000_000, scales=None)
        {'max_pixels': 1000000}
    """
    return {name: value for name, value in options.items() if value is not None}


def scales_option(help: str = SCALES_HELP, *, multiple: bool = False) -> Callable:
    """``--scales Q,Q,...``: test scales (`Scales`); ``multiple``: repeatable, once for all
    models or once per ``--model`` (see `per_option`)."""
    return click.option("--scales", type=Scales(), multiple=multiple, default=None, help=help)


def model_option(*, required: bool = True, help: str = MODEL_HELP, **attrs) -> Callable:
    """``--model PATH``: a `.keras` file or a run directory (checked by the library)."""
    return click.option(
        "--model", "model", type=click.Path(), metavar="PATH", required=required, help=help, **attrs
    )


def out_option(help: str, **attrs) -> Callable:
    """``-o/--out PATH``: where a command writes its result (never an empty path, which
    would silently mean the current folder)."""
    attrs.setdefault("callback", _not_empty)
    return click.option("-o", "--out", "out", type=click.Path(), help=help, **attrs)


def _not_empty(ctx: click.Context, param: click.Parameter, value):
    if value is not None and not str(value).strip():
        raise click.BadParameter("must not be empty (write . for the current folder).")
    return value


def max_pixels_option() -> Callable:
    """``--max-pixels N``: the bound on one rescaled view (`kvgg.evaluate.common.MAX_PIXELS`)."""
    return click.option(
        "--max-pixels",
        type=click.IntRange(1, 2**62),
        default=None,
        help="Refuse an image whose view rescaled to a test scale would exceed this many "
        "pixels (a 10x10000 strip at Q=512 is 262 M) instead of exhausting memory. "
        "Default: 16,777,216 (a 4096x4096 view).",
    )


CLASSIFIER_HELP = (
    "The classifier whose top-5 classes are localised (.keras file or run directory), scored "
    "as `kvgg evaluate --method dense` scores. Repeat to fuse classifiers (posteriors "
    "averaged, as `kvgg evaluate` fuses)."
)
CLASSIFIER_SCALES_HELP = (
    "The classifiers' test scales Q, comma-separated: once for all, or once per "
    "--classifier in the same order. Default: each classifier's own preset, as `kvgg "
    "evaluate` (from its recipe's training scale)."
)
MERGE_HELP = (
    "OverFeat greedy merging stops when the best match score (centre distance plus "
    "intersection, in image units) passes this value. Default: the value measured best on "
    "a validation split (kvgg.localize.DEFAULT_MERGE_THRESHOLD)."
)


def classifier_option(*, required: bool = True) -> Callable:
    """``--classifier PATH`` (repeatable): the classifiers of localisation's top-5 classes."""
    return click.option(
        "--classifier",
        "classifiers",
        type=click.Path(),
        metavar="PATH",
        multiple=True,
        required=required,
        help=CLASSIFIER_HELP,
    )


def classifier_scales_option() -> Callable:
    """``--classifier-scales Q,Q,...`` (repeatable): once for all classifiers or once each."""
    return click.option(
        "--classifier-scales", type=Scales(), multiple=True, help=CLASSIFIER_SCALES_HELP
    )


def merge_threshold_option() -> Callable:
    """``--merge-threshold``: a finite number >= 0 (`kvgg.localize.DEFAULT_MERGE_THRESHOLD`)."""
    return click.option(
        "--merge-threshold", type=FiniteFloat(), default=None, metavar="T", help=MERGE_HELP
    )


class FiniteFloat(click.ParamType):
    """A finite number >= 0: NaN and infinity are refused (no comparison would stop)."""

    name = "number"

    def convert(self, value, param, ctx):
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number.", param, ctx)
        if not math.isfinite(number) or number < 0:
            self.fail(f"must be a finite number >= 0. Received: {value!r}", param, ctx)
        return number


def per_option(values: tuple, count: int, option: str, per: str) -> list | None:
    """An option given once for all (``count``) items or once per item, as a list.

    Example:
        >>> per_option(((32,),), 2, "--scales", "--model")
        [(32,), (32,)]
        >>> per_option((), 2, "--scales", "--model") is None
        True
    """
    if not values:
        return None
    if len(values) == 1:
        return [values[0]] * count
    if len(values) != count:
        raise click.UsageError(
            f"{option}: give it once, or once per {per} ({count}). Received {len(values)}."
        )
    return list(values)


def flip_option() -> Callable:
    """``--flip/--no-flip``, default None: the model's own setting (`default_flip`)."""
    return click.option("--flip/--no-flip", default=None, help=FLIP_HELP)


def warn_deprecated(old: str, new: str) -> None:
    """Tell the user, on stderr, that ``old`` is an old spelling of ``new``.

    Example:
        >>> import contextlib, sys
        >>> with contextlib.redirect_stderr(sys.stdout):  # show stderr here
        ...     warn_deprecated("--output", "-o/--out")
        Warning: --output is deprecated; use -o/--out (the old spelling goes in the next release).
    """
    click.echo(
        f"Warning: {old} is deprecated; use {new} (the old spelling goes in the next release).",
        err=True,
    )


def renamed_option(old: str, *, new: str, param: str, **attrs) -> Callable:
    """Accept ``old`` (hidden from --help) as a deprecated spelling of the option ``new``.

    The value given under the old name reaches the command as ``param`` (the new option's
    parameter name), after a deprecation line on stderr; both spellings at once is a usage
    error.

    Args:
        old: the old option, e.g. ``"--output"``.
        new: the new spelling as shown to users, e.g. ``"-o/--out"``.
        param: the command's parameter name of the new option, e.g. ``"out"``.
        **attrs: `click.option` settings of the old option (type, multiple, ...).
    """
    hidden = "legacy_" + old.lstrip("-").replace("-", "_")

    def decorator(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            value = kwargs.pop(hidden)
            if value not in (None, ()):
                source = click.get_current_context().get_parameter_source(param)
                if source not in (None, click.core.ParameterSource.DEFAULT):
                    raise click.UsageError(f"{old} and {new} are the same option; give only {new}.")
                warn_deprecated(old, new)
                kwargs[param] = value
            return command(*args, **kwargs)

        return click.option(old, hidden, hidden=True, default=None, **attrs)(wrapper)

    return decorator


class LegacyArguments(click.Argument):
    """Positional arguments of an old spelling (``kvgg summary D``), left out of the usage line.

    Declare it with ``nargs=-1`` and hand its values to `legacy_positionals`.
    """

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        return []


def legacy_positionals(values: tuple, old: str, new: str, **given) -> dict:
    """Fill options from the positionals of an old spelling, with a deprecation line.

    Args:
        values: what the `LegacyArguments` parameter received.
        old: the old spelling, e.g. ``"kvgg summary CONFIG"``.
        new: the new one, e.g. ``"kvgg summary --config CONFIG"``.
        **given: the options the positionals stand for, in order, with the values given
            for them (None when not given): ``config=None``.

    Returns:
        ``given`` with the positionals filled in.

    Example:
        >>> legacy_positionals((), "summary CONFIG", "summary --config CONFIG", config="D")
        {'config': 'D'}
    """
    if not values:
        return given
    if len(values) != len(given) or any(value is not None for value in given.values()):
        raise click.UsageError(
            f"Unexpected arguments {' '.join(values)!r}; the command reads: {new}."
        )
    warn_deprecated(old, new)
    return dict(zip(given, values, strict=True))


def require(value, shown: str) -> None:
    """Click's usage error for a required option that an old spelling made optional.

    Example:
        >>> require("D", "--config")
    """
    if value in (None, ()):
        raise click.UsageError(f"Missing option '{shown}'.")


PRECISION_HELP = (
    "Compute in float32, mixed_bfloat16 or mixed_float16: 16-bit layers with a float32 "
    "soft-max, faster on GPUs with tensor cores (kvgg.precision)."
)


def runtime_precision_option() -> Callable:
    """``--precision`` of an exported model: what its runtime computes in
    (`kvgg.deploy.choices.PRECISIONS`), recorded in the artifact."""
    from kvgg.deploy.choices import PRECISIONS

    return click.option(
        "--precision",
        type=click.Choice(PRECISIONS),
        default=PRECISIONS[0],
        show_default=True,
        help="What the runtime computes in: float32 matches Keras; bfloat16 for OpenVINO's "
        "CPU plug-in (faster on CPUs with AVX-512 BF16 or AMX). Recorded in the artifact.",
    )


def precision_option() -> Callable:
    """``--precision``: the Keras dtype policy the command's models compute in.

    The policy holds while the command runs (models load into it, see
    `kvgg.io.load_model`) and is restored when it ends.
    """

    def use(ctx: click.Context, param, value: str) -> str:
        from kvgg.precision import dtype_policy

        ctx.with_resource(dtype_policy(value))  # a bad value: ValueError naming it
        return value

    return click.option(
        "--precision",
        default="float32",
        show_default=True,
        metavar="[float32|mixed_bfloat16|mixed_float16]",
        expose_value=False,
        callback=use,
        help=PRECISION_HELP,
    )
