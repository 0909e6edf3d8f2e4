"""`kvgg summary`, `kvgg surgery` and `kvgg weights`: models, their surgery, published weights."""

from __future__ import annotations

import click


@click.command()
@click.argument("config", metavar="CONFIG")
@click.option("--width", type=float, default=1.0, show_default=True, help="Channel multiplier.")
@click.option("--batch-norm", is_flag=True, help="The BN variant (BN after every conv).")
@click.option("--image-size", type=int, default=224, show_default=True, help="Input side.")
@click.option("--num-classes", type=int, default=1000, show_default=True)
def summary(config, width, batch_norm, image_size, num_classes):
    """Per-layer output shape, parameters, multiply-adds and activation memory of CONFIG.

    CONFIG is A, A-LRN, B, C, D, E or an alias such as vgg16 (case-insensitive).
    """
    from kvgg.models import build, format_profile, profile

    model = build(
        config,
        width=width,
        batch_norm=batch_norm,
        input_shape=(image_size, image_size, 3),
        num_classes=num_classes,
    )
    click.echo(f"{model.name} ({image_size}x{image_size} input, {num_classes} classes)")
    click.echo(format_profile(profile(model)))


@click.group()
def surgery():
    """Model surgery: turn a classifier into a fully-convolutional net."""


@surgery.command("fcn")
@click.argument("source", metavar="IN.keras", type=click.Path(dir_okay=False))
@click.argument("destination", metavar="OUT.keras", type=click.Path(dir_okay=False))
@click.option(
    "--until",
    type=click.Choice(["fc1", "fc2"]),
    default=None,
    help="Stop after this FC layer's ReLU (fc2: the 4096-D transfer descriptor map).",
)
def surgery_fcn(source, destination, until):
    """Convert the classifier IN.keras to a fully-convolutional OUT.keras.

    FC-1 becomes a 7x7 valid convolution, FC-2 and FC-3 1x1 convolutions with the same
    weights; the result takes images of any size and outputs a map of class posteriors
    (6x6 for a 384x384 image).
    """
    from kvgg.models.surgery import fully_convolutional_file

    click.echo(f"Wrote {fully_convolutional_file(source, destination, until=until)}")


@click.group()
def weights():
    """Published ImageNet weights (keras.applications, torchvision) as kvgg models."""


@weights.command("import")
@click.option(
    "--from",
    "source",
    type=click.Choice(["keras", "torchvision"]),
    required=True,
    help="keras: keras.applications VGG16/VGG19 (configs D, E); "
    "torchvision: vgg11/13/16/19 and _bn (configs A, B, D, E).",
)
@click.option(
    "--file",
    type=click.Path(dir_okay=False),
    help="The weights file: a torchvision .pth (required), or a keras.applications .h5 "
    "(default for keras: download the ImageNet weights once, cached by Keras).",
)
@click.option(
    "--config",
    required=True,
    help="VGG configuration: A, B, D, E or vgg11, vgg13, vgg16, vgg19 (BN is read from the file).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="The .keras file to write (with ImageNet class names and the weights' origin).",
)
def import_(source, file, config, out):
    """Import published weights into a kvgg model that takes RGB images in [0, 255].

    \b
    Example:
      kvgg weights import --from keras --config D --out vgg16.keras
      kvgg weights import --from torchvision --file vgg16_bn-6c64b313.pth \\
          --config D --out vgg16_bn.keras
    """
    from kvgg.weights import import_weights

    try:
        path = import_weights(source, config, out, file=file)
    except ImportError as error:  # PyTorch missing: one line and exit code 2, like bad input.
        raise ValueError(str(error)) from error
    click.echo(f"Wrote {path}")
