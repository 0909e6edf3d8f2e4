"""`kvgg summary`, `kvgg surgery` and `kvgg weights`: models, their surgery, published weights."""

from __future__ import annotations

import click

from kvgg.cli.options import (
    LegacyArguments,
    legacy_positionals,
    model_option,
    out_option,
    require,
)


@click.command()
@click.option(
    "--config",
    help="A, A-LRN, B, C, D, E or an alias such as vgg16 (case-insensitive), or a training "
    "recipe (.yaml), e.g. recipes/ablation/b_5x5.yaml for Sec. 4.1's 5x5 net.",
)
@click.argument("legacy", nargs=-1, cls=LegacyArguments)
@click.option(
    "--width", type=float, default=None, help="Channel multiplier. Default: 1, or the recipe's."
)
@click.option("--batch-norm", is_flag=True, help="The BN variant (BN after every conv).")
@click.option(
    "--image-size",
    type=click.IntRange(1),
    default=None,
    help="Input side. Default: 224, or the recipe's crop.",
)
@click.option(
    "--num-classes",
    type=click.IntRange(1),
    default=None,
    help="Default: 1000, or the classes of the recipe's training data.",
)
def summary(config, legacy, width, batch_norm, image_size, num_classes):
    """Per-layer output shape, parameters, multiply-adds and activation memory of a model.

    \b
    kvgg summary --config D
    kvgg summary --config A --width 0.25 --image-size 32 --num-classes 10
    kvgg summary --config recipes/quickstart.yaml
    """
    from kvgg.models import build, format_profile, profile
    from kvgg.models.configs import INPUT_SIZE

    (config,) = legacy_positionals(
        legacy, "kvgg summary CONFIG", "kvgg summary --config CONFIG", config=config
    ).values()
    require(config, "--config")

    if config.endswith((".yaml", ".yml")):
        model, image_size, num_classes = _recipe_model(
            config, width, batch_norm, image_size, num_classes
        )
    else:
        image_size = image_size or INPUT_SIZE
        model = build(
            config,
            width=1.0 if width is None else width,
            batch_norm=batch_norm,
            input_shape=(image_size, image_size, 3),
            num_classes=num_classes or 1000,
        )
        num_classes = num_classes or 1000
    click.echo(f"{model.name} ({image_size}x{image_size} input, {num_classes} classes)")
    click.echo(format_profile(profile(model)))


def _recipe_model(path, width, batch_norm, image_size, num_classes):
    """(model, input side, classes) of a recipe, built by the code `kvgg fit` uses; the
    classes are its training data's when they can be listed here."""
    from kvgg.data import open_source
    from kvgg.train import build_model, load_train_recipe
    from kvgg.train.recipes import task_for_recipe

    overrides = [f"model.width={width}"] * (width is not None)
    overrides += ["model.batch_norm=true"] * batch_norm
    overrides += [f"data.crop={image_size}"] * (image_size is not None)
    recipe = load_train_recipe(path, overrides, check_paths=False)
    if num_classes is None:
        try:
            num_classes = open_source(recipe.data.train).num_classes
        except (ValueError, OSError):
            num_classes = 1000
            click.echo(
                f"(data.train is not readable here: {num_classes} classes assumed; "
                "--num-classes to change.)"
            )
    model = task_for_recipe(recipe).build(recipe, build_model(recipe, num_classes))
    return model, recipe.data.crop, num_classes


@click.group()
def surgery():
    """Model surgery: turn a classifier into a fully-convolutional net."""


@surgery.command("fcn")
@model_option(required=False)
@out_option("The fully-convolutional .keras file to write.")
@click.argument("legacy", nargs=-1, cls=LegacyArguments)
@click.option(
    "--until",
    type=click.Choice(["fc1", "fc2"]),
    default=None,
    help="Stop after this FC layer's ReLU (fc2: the 4096-D transfer descriptor map).",
)
def surgery_fcn(model, out, legacy, until):
    """Convert the classifier --model to a fully-convolutional .keras file, -o/--out.

    \b
    kvgg surgery fcn --model vgg16.keras -o vgg16_fcn.keras

    FC-1 becomes a 7x7 valid convolution, FC-2 and FC-3 1x1 convolutions with the same
    weights; the result takes images of any size and outputs a map of class posteriors
    (6x6 for a 384x384 image).
    """
    from kvgg.models.surgery import fully_convolutional_file

    model, out = legacy_positionals(
        legacy,
        "kvgg surgery fcn IN.keras OUT.keras",
        "kvgg surgery fcn --model IN.keras -o OUT.keras",
        model=model,
        out=out,
    ).values()
    require(model, "--model")
    require(out, "-o/--out")
    click.echo(f"Wrote {fully_convolutional_file(model, out, until=until)}")


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
@out_option(
    "The .keras file to write (with ImageNet class names and the weights' origin).",
    required=True,
)
def import_(source, file, config, out):
    """Import published weights into a kvgg model that takes RGB images in [0, 255].

    \b
    Example:
      kvgg weights import --from keras --config D -o vgg16.keras
      kvgg weights import --from torchvision --file vgg16_bn-6c64b313.pth \\
          --config D -o vgg16_bn.keras
    """
    from kvgg.weights import import_weights

    try:
        path = import_weights(source, config, out, file=file)
    except ImportError as error:  # PyTorch missing: one line and exit code 2, like bad input.
        raise ValueError(str(error)) from error
    click.echo(f"Wrote {path}")
