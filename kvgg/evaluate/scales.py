"""Test-time defaults (paper Sec. 3.2 and Table 4): scales Q and flips, from the model file.

`kvgg fit` saves the run's recipe in the model file's metadata (`kvgg.io.read_info`): its
training scale gives the test scales (`default_scales`), its ``data.flip`` whether to
average in mirrored images (`default_flip`); the crop is the model's input size. Models
that carry no recipe get the paper's defaults.
"""

from __future__ import annotations

from kvgg.models.configs import INPUT_SIZE

JITTERED_SCALES = (256, 384, 512)


def preset_scales(train_scale: int | tuple[int, int] | list[int]) -> tuple[int, ...]:
    """The paper's multi-scale test set for a model trained at ``train_scale``.

    A fixed-scale model (S) is tested at Q in {S - 32, S, S + 32}; a jittered one
    (S in [S_min, S_max]) at Q in {S_min, (S_min + S_max) / 2, S_max}, which is
    {256, 384, 512} for the paper's [256; 512].

    Args:
        train_scale: S, or (S_min, S_max) for scale jittering.

    Example:
        >>> preset_scales(384)
        (352, 384, 416)
        >>> preset_scales((256, 512))
        (256, 384, 512)
    """
    if isinstance(train_scale, int):
        return (train_scale - 32, train_scale, train_scale + 32)
    low, high = train_scale
    return (low, (low + high) // 2, high)


def parse_scales(text: str) -> tuple[int, ...]:
    """Parse a comma-separated list of test scales such as ``"256,384,512"``.

    Args:
        text: positive integers separated by commas.

    Example:
        >>> parse_scales("256, 384,512")
        (256, 384, 512)
    """
    try:
        scales = tuple(int(part) for part in text.split(","))
    except ValueError:
        scales = ()
    if not scales or min(scales) < 1:
        raise ValueError(
            f"Scales must be positive integers separated by commas, e.g. 256,384,512. "
            f"Received: scales={text!r}"
        )
    return scales


def default_scales(info: dict, crop: int = INPUT_SIZE) -> tuple[int, ...]:
    """Test scales for a saved model: the preset of its training scale, else {256, 384, 512}.

    The training scale is the ``"scale"`` entry that `kvgg fit` stores in the model file's
    metadata (`kvgg.io.read_info`). Scales below the crop size are dropped (a model trained
    at S = crop is tested at {S, S + 32}).

    Args:
        info: the model file's kvgg metadata.
        crop: the model's input size.

    Example:
        >>> default_scales({"scale": [256, 512]})
        (256, 384, 512)
    """
    scale = info.get("scale")
    if isinstance(scale, int) or (isinstance(scale, list | tuple) and len(scale) == 2):
        scales = preset_scales(scale if isinstance(scale, int) else tuple(scale))
        return tuple(q for q in scales if q >= crop)
    return JITTERED_SCALES


def default_flip(info: dict) -> bool:
    """Whether to average in mirrored images for a saved model: as it was trained.

    The ``data.flip`` of the recipe that `kvgg fit` saved in the model file; a model
    without one (imported weights, plain Keras files) gets the paper's default, flips
    (Sec. 3.2).

    Args:
        info: the model file's kvgg metadata.

    Example:
        >>> default_flip({"recipe": {"data": {"flip": False}}})
        False
        >>> default_flip({})
        True
    """
    flip = info.get("recipe", {}).get("data", {}).get("flip")
    return True if flip is None else bool(flip)
