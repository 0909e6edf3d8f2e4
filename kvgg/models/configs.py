"""Table 1 of the paper as data: the six VGG configurations.

Each configuration lists, per block, the kernel size of every convolution. Block
``i`` has ``STAGE_FILTERS[i]`` filters and ends with a 2x2 max-pool. One builder
(`kvgg.models.vgg.build`) walks this table; there are no per-depth copies.
"""

from __future__ import annotations

from dataclasses import dataclass

STAGE_FILTERS = (64, 128, 256, 512, 512)
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
    """

    name: str
    model_name: str
    kernels: tuple[tuple[int, ...], ...]
    lrn: bool = False

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
