"""Table 1 of the paper as data: the six VGG configurations.

Each configuration lists, per block, the kernel size of every convolution. Block
``i`` has ``STAGE_FILTERS[i]`` filters and ends with a 2x2 max-pool. One builder
(`kvgg.models.vgg.build`) walks this table; there are no per-depth copies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STAGE_FILTERS = (64, 128, 256, 512, 512)
# Each block ends in a 2x2 max-pool of stride 2, so the network's stride is 2 ** 5 = 32
# pixels: one score vector per 32 pixels in dense evaluation, and the smallest input side.
STRIDE = 2 ** len(STAGE_FILTERS)
INPUT_SIZE = 224  # the paper's training crop and the classifier's input side (Sec. 2.1)
FC_UNITS = 4096
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)


@dataclass(frozen=True)
class VGGConfig:
    """One column of Table 1.

    Args:
        name: the paper's letter ("A", "A-LRN", "B", "C", "D", "E").
        model_name: the common name, used as the Keras model name (e.g. "vgg16").
        kernels: per block, the kernel size of each convolution.
        lrn: whether block 1's convolution is followed by local response normalisation.
        filters: per block, the number of filters of its convolutions (Table 1's widths).
    """

    name: str
    model_name: str
    kernels: tuple[tuple[int, ...], ...]
    lrn: bool = False
    filters: tuple[int, ...] = STAGE_FILTERS

    @property
    def weight_layers(self) -> int:
        """Number of weight layers (convolutions plus the three FC layers)."""
        return sum(len(block) for block in self.kernels) + 3


CONFIGS: dict[str, VGGConfig] = {
    c.name: c
    for c in (
        VGGConfig("A", "vgg11", ((3,), (3,), (3, 3), (3, 3), (3, 3))),
        VGGConfig("A-LRN", "vgg11_lrn", ((3,), (3,), (3, 3), (3, 3), (3, 3)), lrn=True),
        VGGConfig("B", "vgg13", ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3))),
        VGGConfig("C", "vgg16_conv1", ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1))),
        VGGConfig("D", "vgg16", ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))),
        VGGConfig("E", "vgg19", ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3))),
    )
}


def custom_config(name: str, stages) -> VGGConfig:
    """A configuration outside Table 1, from stages of (kernel, filters) pairs.

    Each stage ends with a 2x2 max-pool, like Table 1's blocks; its convolutions share one
    number of filters. Sec. 4.1's shallow ablation, B with each pair of 3x3 convolutions
    replaced by one 5x5, is ``[[(5, 64)], [(5, 128)], [(5, 256)], [(5, 512)], [(5, 512)]]``.

    Args:
        name: the configuration's name (e.g. "B-5x5"); the model is named after it.
        stages: one list of ``(kernel, filters)`` pairs per stage, at least one stage.

    Returns:
        A `VGGConfig` that `kvgg.build` accepts in place of a letter.

    Example:
        >>> b5 = custom_config("B-5x5", [[(5, 64)], [(5, 128)], [(5, 256)], [(5, 512)], [(5, 512)]])
        >>> b5.kernels, b5.weight_layers, b5.model_name
        (((5,), (5,), (5,), (5,), (5,)), 8, 'vgg_b_5x5')
    """
    stages = [[tuple(pair) for pair in stage] for stage in stages]
    if not stages or any(not stage for stage in stages):
        raise ValueError(
            f"Every stage needs at least one (kernel, filters) pair. Received: stages={stages}"
        )
    for stage in stages:
        if any(len(pair) != 2 or min(pair) < 1 for pair in stage):
            raise ValueError(
                f"A convolution is a (kernel, filters) pair of positive integers. "
                f"Received: stage={stage}"
            )
        if len({filters for _, filters in stage}) != 1:
            raise ValueError(
                f"The convolutions of a stage share one number of filters, as in "
                f"Table 1. Received: stage={stage}"
            )
    return VGGConfig(
        name=name,
        model_name="vgg_" + re.sub(r"\W+", "_", name.lower()).strip("_"),
        kernels=tuple(tuple(kernel for kernel, _ in stage) for stage in stages),
        filters=tuple(stage[0][1] for stage in stages),
    )


_ALIASES = {c.model_name: c.name for c in CONFIGS.values()} | {"a_lrn": "A-LRN", "alrn": "A-LRN"}


def get_config(config: str | VGGConfig) -> VGGConfig:
    """Return the `VGGConfig` for a letter or an alias, case-insensitively.

    Args:
        config: "A", "A-LRN", "B", "C", "D", "E" or an alias ("vgg11", "vgg11_lrn",
            "vgg13", "vgg16_conv1", "vgg16", "vgg19"), or a `VGGConfig`.

    Example:
        >>> get_config("vgg16").name
        'D'
    """
    if isinstance(config, VGGConfig):
        return config
    if isinstance(config, str):
        key = config.strip()
        if key.upper() in CONFIGS:
            return CONFIGS[key.upper()]
        if key.lower() in _ALIASES:
            return CONFIGS[_ALIASES[key.lower()]]
    names = ", ".join(list(CONFIGS) + sorted(c.model_name for c in CONFIGS.values()))
    raise ValueError(
        f"Unknown VGG configuration. Expected one of {names}. Received: config={config!r}"
    )
