"""Per-layer sizes of a model: output shape, parameters, multiply-accumulates, memory."""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

# Layers whose output is a view or an identity at inference: no activation memory counted.
_NO_MEMORY = (keras.layers.Flatten, keras.layers.Dropout, keras.layers.Normalization)


@dataclass(frozen=True)
class LayerProfile:
    """Sizes of one layer for one image.

    Args:
        name: the layer's name.
        output_shape: output shape without the batch axis.
        params: number of weights (trainable and not).
        macs: multiply-accumulates of its weights for one image.
        activations: output values held for one image (0 for views such as Flatten).
    """

    name: str
    output_shape: tuple
    params: int
    macs: int
    activations: int


def profile(model: keras.Model) -> list[LayerProfile]:
    """Return one `LayerProfile` per layer of a functional model with a fixed input size.

    The input layer counts as activations (the image); convolutions and FC layers count
    multiply-accumulates (``H * W * C_out * k_h * k_w * C_in``, ``in * out``).

    Args:
        model: a functional model whose input size is fixed.

    Example:
        >>> import kvgg
        >>> rows = profile(kvgg.build("D", width=1 / 16, input_shape=(32, 32, 3)))
        >>> first = next(r for r in rows if r.name == "block1_conv1")
        >>> first.output_shape, first.params, first.macs  # 3x3x3 kernels, 4 maps of 32x32
        ((32, 32, 4), 112, 110592)
    """
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape[1:])
        if any(s is None for s in shape):
            raise ValueError(
                f"Profiling needs a fixed input size; layer {layer.name!r} has output shape "
                f"{shape}. Build the model with a fixed input_shape."
            )
        size = math.prod(shape)
        macs = 0
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, _ = layer.kernel.shape
            macs = size * kh * kw * cin
        elif isinstance(layer, keras.layers.Dense):
            macs = math.prod(layer.kernel.shape)
        activations = 0 if isinstance(layer, _NO_MEMORY) else size
        rows.append(LayerProfile(layer.name, shape, layer.count_params(), macs, activations))
    return rows


def format_profile(rows: list[LayerProfile], bytes_per_value: int = 4) -> str:
    """Render `profile` rows and their totals as a text table.

    Args:
        rows: the output of `profile`.
        bytes_per_value: bytes per activation (4 for float32).

    Example:
        >>> import kvgg
        >>> table = format_profile(profile(kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3))))
        >>> print(table.splitlines()[0])
        layer                     output shape        params            MACs   activations
    """
    header = f"{'layer':<20}{'output shape':>18}{'params':>14}{'MACs':>16}{'activations':>14}"
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = "x".join(str(s) for s in r.output_shape)
        lines.append(f"{r.name:<20}{shape:>18}{r.params:>14,}{r.macs:>16,}{r.activations:>14,}")
    params = sum(r.params for r in rows)
    macs = sum(r.macs for r in rows)
    acts = sum(r.activations for r in rows)
    lines += [
        "-" * len(header),
        f"parameters:        {params:,} ({params / 1e6:.1f} M)",
        f"multiply-adds:     {macs:,} ({macs / 1e9:.2f} GMACs per image)",
        f"activations:       {acts:,} per image, {acts * bytes_per_value / 1e6:.1f} MB forward "
        f"({bytes_per_value} bytes each; training keeps about twice that for gradients)",
        f"weights:           {params * bytes_per_value / 1e6:.1f} MB",
    ]
    return "\n".join(lines)
