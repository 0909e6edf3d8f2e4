"""`kvgg lpips`: the LPIPS distance (v0.1, VGG) of image pairs."""

from __future__ import annotations

import click

from kvgg.cli.options import model_option


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@model_option(
    required=False,
    help="The VGG-16 backbone: a .keras file (e.g. from `kvgg weights import`) or torchvision's "
    "vgg16 .pth (the lpips package's backbone: the package's distances). Default: "
    "keras.applications' ImageNet VGG-16 (downloaded once).",
)
@click.option(
    "--linear",
    type=click.Path(dir_okay=False),
    default=None,
    help="LPIPS's learned linear weights: the lpips package's weights/v0.1/vgg.pth, or an .npz "
    "with arrays lin0 ... lin4. Default: the file in the installed lpips package.",
)
def lpips(images, model, linear):
    """Print the LPIPS distance of each pair: IMAGE_A IMAGE_B [IMAGE_A IMAGE_B ...].

    The two images of a pair must have one size; 0 means identical.

    \b
    kvgg lpips --model vgg16_tv.keras photo.png photo_blurred.png
    """
    if len(images) % 2:
        raise click.UsageError(f"IMAGES come in pairs; received {len(images)} paths.")
    import numpy as np

    from kvgg.evaluate.predict import load_image
    from kvgg.perceptual import LPIPS

    metric = LPIPS(backbone=model, linear=linear)
    for path_a, path_b in zip(images[::2], images[1::2], strict=True):
        image_a, image_b = load_image(path_a), load_image(path_b)
        if image_a.shape != image_b.shape:
            raise ValueError(
                f"{path_a!r} is {image_a.shape[1]}x{image_a.shape[0]}, {path_b!r} is "
                f"{image_b.shape[1]}x{image_b.shape[0]}: LPIPS compares images of one size."
            )
        distance = np.asarray(metric(image_a[None], image_b[None]))[0]
        click.echo(f"{float(distance):.4f}  {path_a}  {path_b}")
