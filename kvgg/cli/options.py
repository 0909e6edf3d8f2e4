"""Option types and help texts shared by several `kvgg` commands (one home for each)."""

from __future__ import annotations

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


SET_HELP = "Override a recipe value, e.g. --set optimizer.lr=0.001 (repeatable; YAML values)."
SMOKE_HELP = "Apply the recipe's smoke section: a tiny local run that checks it end to end."
