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
