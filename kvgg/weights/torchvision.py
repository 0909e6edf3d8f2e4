"""Import torchvision's VGG state dicts (vgg11/13/16/19 and their _bn variants).

torchvision's layout: ``features`` is a Sequential of (conv, [BN], ReLU) per convolution
and one max-pool per block; ``avgpool`` is ``AdaptiveAvgPool2d((7, 7))``; ``classifier``
is (Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear), keys ``classifier.0/3/6``.
The importer walks kvgg's Table 1 to number the ``features.N`` modules, so no depth is
written out by hand.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from kvgg.models import build, get_config
from kvgg.models.configs import INPUT_SIZE, STAGE_FILTERS
from kvgg.models.pretrained import assign

# torchvision's input convention: RGB scaled to [0, 1], then normalised by these.
TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)
_POOLED_SIDE = 7  # torchvision's AdaptiveAvgPool2d((7, 7)) before the classifier
_BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")
_SUPPORTED = ("A", "B", "D", "E")


@dataclass(frozen=True)
class _Module:
    """One torchvision module with weights and the kvgg layer that receives them."""

    key: str  # state-dict prefix, e.g. "features.3"
    layer: str  # kvgg layer name, e.g. "block1_conv2"
    kind: str  # "conv", "bn", "fc1" or "dense"


def _layout(config: str, batch_norm: bool) -> list[_Module]:
    """The weighted modules of torchvision's VGG for `config`, in order, with kvgg names."""
    cfg = get_config(config)
    if cfg.name not in _SUPPORTED:
        raise ValueError(
            "torchvision publishes VGG configs A, B, D and E (vgg11, vgg13, vgg16, vgg19 and "
            f"their _bn variants) only. Received: config={config!r}"
        )
    modules, index = [], 0
    for block, kernels in enumerate(cfg.kernels, start=1):
        for conv in range(1, len(kernels) + 1):
            name = f"block{block}_conv{conv}"
            modules.append(_Module(f"features.{index}", name, "conv"))
            index += 1
            if batch_norm:
                modules.append(_Module(f"features.{index}", f"{name}_bn", "bn"))
                index += 1
            index += 1  # ReLU
        index += 1  # max-pool
    modules += [
        _Module("classifier.0", "fc1", "fc1"),
        _Module("classifier.3", "fc2", "dense"),
        _Module("classifier.6", "predictions", "dense"),
    ]
    return modules


def from_torchvision(
    path,
    config: str,
    *,
    input_shape: Sequence[int] = (INPUT_SIZE, INPUT_SIZE, 3),
    mean: Sequence[float] = TORCHVISION_MEAN,
    std: Sequence[float] = TORCHVISION_STD,
) -> keras.Model:
    """Build a kvgg model holding the weights of a torchvision VGG state dict (``.pth``).

    Reads ``vgg11/13/16/19[_bn]-*.pth`` as torchvision publishes them (or any state dict
    in that layout, e.g. a fine-tuned one with another number of classes; widths and
    classes are read from the file). Conversions: conv kernels OIHW -> HWIO, FC kernels
    (out, in) -> (in, out), FC-1's inputs from torch's (C, H, W) flattening to Keras'
    (H, W, C), BN statistics (eps 1e-5), and torchvision's input convention (RGB / 255,
    normalised by `mean` and `std`) moved into the model's ``preprocess`` layer. The kvgg
    model takes RGB images in [0, 255] and gives the torchvision model's posteriors.

    torchvision average-pools the block-5 map to 7x7 before FC-1 (the identity at 224x224).
    For another fixed `input_shape` that pooling is folded into FC-1's weights, so the
    result stays exact.

    Args:
        path: the ``.pth`` file (a state dict; ``module.`` prefixes are stripped).
        config: "A", "B", "D", "E" or an alias ("vgg11", "vgg13", "vgg16", "vgg19"); the
            BN variant is recognised from the file.
        input_shape: the kvgg model's fixed input shape ``(height, width, 3)``.
        mean: per-channel mean of the [0, 1] RGB input (torchvision's ImageNet default).
        std: per-channel std of the [0, 1] RGB input.

    Returns:
        A functional kvgg model with softmax posteriors and the paper's dropout.

    Example:
        Not run as a doctest: it needs torchvision's 528 MB VGG-16 file, a download.

        >>> model = from_torchvision("vgg16-397923af.pth", "D")  # doctest: +SKIP
        >>> model.predict(rgb_images_224)  # RGB in [0, 255], no preprocessing  # doctest: +SKIP
    """
    path = Path(path)
    state = read_state_dict(path)
    batch_norm = "features.1.running_mean" in state
    layout = _layout(config, batch_norm)
    _check_keys(state, layout, path, batch_norm)

    first = state["features.0.weight"]
    if first.ndim != 4 or first.shape[1] != 3:
        raise ValueError(
            f"{str(path)!r}: 'features.0.weight' should be an RGB conv kernel (out, 3, kh, kw). "
            f"Received: shape={first.shape}"
        )
    fc1, predictions = state["classifier.0.weight"], state["classifier.6.weight"]
    model = build(
        config,
        num_classes=predictions.shape[0],
        input_shape=input_shape,
        width=first.shape[0] / STAGE_FILTERS[0],
        fc_units=fc1.shape[0],
        batch_norm=batch_norm,
        mean=[255 * m for m in mean],
        std=[255 * s for s in std],
    )
    map_height, map_width = model.get_layer("block5_pool").output.shape[1:3]
    for module in layout:
        arrays = [state[f"{module.key}.{suffix}"] for suffix in _suffixes(module)]
        if module.kind == "conv":
            arrays[0] = arrays[0].transpose(2, 3, 1, 0)  # OIHW -> HWIO
        elif module.kind == "fc1":
            arrays[0] = _fc1_kernel(arrays[0], map_height, map_width, module.key, path)
        elif module.kind == "dense":
            arrays[0] = arrays[0].T
        assign(model.get_layer(module.layer), arrays, f"{str(path)!r} key {module.key!r}")
    return model


def read_state_dict(path) -> dict[str, np.ndarray]:
    """Read a torch state dict file into float32 numpy arrays (needs PyTorch).

    Args:
        path: a ``.pth`` / ``.pt`` file written by ``torch.save(model.state_dict(), path)``.

    Example:
        >>> import tempfile, torch
        >>> path = f"{tempfile.mkdtemp()}/tiny.pth"
        >>> state = {"classifier.0.weight": torch.zeros(2, 3), "classifier.0.bias": torch.zeros(2)}
        >>> torch.save(state, path)
        >>> sorted(read_state_dict(path))
        ['classifier.0.bias', 'classifier.0.weight']
    """
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "Reading torchvision weights needs PyTorch: pip install 'kvgg[torch]' "
            "(or pip install torch)."
        ) from error
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No torchvision weights file at {str(path)!r}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign or pickled files.
        if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in str(error):
            reason = (
                "it holds pickled Python objects (a whole nn.Module saved with "
                "torch.save(model)?), which are not loaded: they could run any code"
            )
        else:  # torch's own text, first line only (some run to a page)
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise ValueError(
            f"{str(path)!r} is not a readable torch state dict "
            f"(save one with torch.save(model.state_dict(), path)): {reason}"
        ) from error
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(
            f"{str(path)!r} holds a {type(state).__name__}, not a state dict of tensors "
            "(save one with torch.save(model.state_dict(), path))."
        )
    if state and all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return {key: value.detach().float().numpy() for key, value in state.items()}


def _suffixes(module: _Module) -> tuple[str, ...]:
    return _BN_SUFFIXES if module.kind == "bn" else ("weight", "bias")


def _check_keys(state, layout, path, batch_norm) -> None:
    expected = {f"{m.key}.{suffix}" for m in layout for suffix in _suffixes(m)}
    present = {key for key in state if not key.endswith("num_batches_tracked")}
    variant = "the BN variant" if batch_norm else "the plain (no BN) variant"
    missing = sorted(expected - present, key=_key_order)
    unexpected = sorted(present - expected, key=_key_order)
    if missing or unexpected:
        raise ValueError(
            f"{str(path)!r} does not match torchvision's layout of this VGG config "
            f"({variant}, recognised from the file): missing keys {missing[:5]}, "
            f"unexpected keys {unexpected[:5]}"
            + (" (and more)" if len(missing) > 5 or len(unexpected) > 5 else "")
            + ". Check the config (A=vgg11, B=vgg13, D=vgg16, E=vgg19)."
        )


def _key_order(key: str):
    """Sort 'features.3.bias' before 'features.10.bias'."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in key.split(".")]


def _fc1_kernel(weight, map_height, map_width, key, path) -> np.ndarray:
    """torch FC-1 weight (out, C*7*7) -> Keras kernel (h*w*C, out) for an h x w block-5 map.

    torch flattens (C, 7, 7) after its adaptive average pool; Keras flattens the block-5
    map (h, w, C). The pool is linear, so it is folded into the kernel (identity at 7x7).
    """
    units, features = weight.shape
    cells = _POOLED_SIDE * _POOLED_SIDE
    if features % cells:
        raise ValueError(
            f"{str(path)!r} key {key!r}: FC-1 must see a (C, 7, 7) map; "
            f"its {features} inputs are not a multiple of 49. Received: shape={weight.shape}"
        )
    channels = features // cells
    folded = weight.reshape(units * channels, cells)
    if (map_height, map_width) != (_POOLED_SIDE, _POOLED_SIDE):  # else the pool is the identity
        pool = np.kron(_adaptive_pool_matrix(map_height), _adaptive_pool_matrix(map_width))
        folded = folded @ pool  # (o*c, 49) @ (49, h*w)
    folded = folded.reshape(units, channels, map_height * map_width)
    return folded.transpose(2, 1, 0).reshape(-1, units)  # (o, c, h*w) -> (h*w*c, o)


def _adaptive_pool_matrix(size: int) -> np.ndarray:
    """(7, size) matrix of torch's AdaptiveAvgPool to 7 along one axis of length `size`."""
    matrix = np.zeros((_POOLED_SIDE, size), dtype="float32")
    for out in range(_POOLED_SIDE):
        start = (out * size) // _POOLED_SIDE
        end = -(-((out + 1) * size) // _POOLED_SIDE)
        matrix[out, start:end] = 1.0 / (end - start)
    return matrix
