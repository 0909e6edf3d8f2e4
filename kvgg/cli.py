"""The `kvgg` command line. Each command parses its options, then calls one library function.

Heavy imports (TensorFlow, Keras) happen inside the commands so that `kvgg --help` is fast.
"""

from __future__ import annotations

import os
import sys

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Group(click.Group):
    """Turns bad input (ValueError, missing files) into a one-line error and exit code 2."""

    def invoke(self, ctx):
        from kvgg.data.bad_files import strict_errors

        try:
            with strict_errors():
                return super().invoke(ctx)
        except (ValueError, FileNotFoundError, NotADirectoryError) as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kvgg")
def main():
    """kvgg: the VGG paper (Simonyan & Zisserman, ICLR 2015) end to end in Keras 3.

    \b
    Look at a model:        kvgg summary D
    Train (2 min on CPU):   kvgg fit recipes/quickstart.yaml
    Evaluate like paper:    kvgg evaluate --model runs/quickstart --data digits:test
    ImageNet weights:       kvgg weights import --from keras --config D --out vgg16.keras
    Classify images:        kvgg predict --model vgg16.keras cat.jpg
    Transfer (Appendix B):  kvgg transfer recipes/transfer/voc2007.yaml

    Run `kvgg COMMAND --help` for each command's options.
    """


@main.command()
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


# ----------------------------------------------------------------- data: kvgg data ...


@main.group()
def data():
    """Datasets: convert to TFRecord, compute colour statistics, find bad files.

    \b
    SOURCE is a folder with one sub-folder per class, or KIND:PATH[?key=value&...]:
      folder:DIR  labels:DIR?labels=FILE  tfrecord:'GLOB'  voc:VOCdevkit?year=2007&split=test
      caltech:DIR?kind=101&subset=train&seed=0  digits  cifar10:test
    """


@data.command("to-tfrecord")
@click.argument("source")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--shards", type=int, default=8, show_default=True, help="Number of files.")
@click.option("--prefix", default="train", show_default=True, help="Shard file name prefix.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the record order.")
def to_tfrecord(source, out, shards, prefix, seed):
    """Write the images of SOURCE as TFRecord shards (ImageNet schema) in OUT."""
    from kvgg.data.tfrecord import write_tfrecords

    written, skipped = write_tfrecords(source, out, shards=shards, prefix=prefix, seed=seed)
    for path, reason in skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    click.echo(f"wrote {len(written)} shards to {out} ({len(skipped)} files skipped)")


@data.command()
@click.argument("source")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default="color_stats.json",
    show_default=True,
    help="JSON file that recipes reference.",
)
@click.option(
    "--max-images",
    type=int,
    default=10_000,
    show_default=True,
    help="Random sample size (0: every image).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
def stats(source, output, max_images, seed):
    """Mean RGB and the RGB covariance eigen basis of SOURCE (for the colour shift)."""
    from kvgg.data.stats import compute_stats

    result = compute_stats(source, max_images=max_images or None, seed=seed)
    result.save(output)
    click.echo(f"mean RGB     {_numbers(result.mean)}")
    click.echo(f"eigenvalues  {_numbers(result.eigenvalues)}  ([0, 255] scale, AlexNet form)")
    click.echo(f"wrote {output}")


@data.command()
@click.argument("source")
def check(source):
    """List every undecodable image of SOURCE, and why; exit code 1 if there is any.

    Decodable oddities that training converts (grayscale, CMYK, alpha, a PNG named .jpg,
    tiny images) are listed as notes.
    """
    from kvgg.data.bad_files import check_source

    findings = check_source(source)
    for finding in findings:
        click.echo(f"{'BAD ' if finding.bad else 'note'}  {finding.path}: {finding.problem}")
    bad = sum(finding.bad for finding in findings)
    click.echo(f"{bad} undecodable, {len(findings) - bad} notes")
    if bad:
        sys.exit(1)


def _numbers(values):
    return " ".join(f"{v:9.3f}" for v in values)


# ----------------------------------------------------------------- training: kvgg fit, recipe, plot

_SET_HELP = "Override a recipe value, e.g. --set optimizer.lr=0.001 (repeatable; YAML values)."
_SMOKE_HELP = "Apply the recipe's smoke section: a tiny local run that checks it end to end."


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--run-dir", type=click.Path(file_okay=False), help="Default: runs/<name>.")
@click.option("--smoke", is_flag=True, help=_SMOKE_HELP)
def fit(recipe, overrides, run_dir, smoke):
    """Train the model of RECIPE (a YAML file under recipes/) into a run directory.

    Running the same command again resumes from the last completed epoch. The run
    directory gets model.keras (best validation top-1), last.keras, history.csv,
    TensorBoard logs, the resolved recipe and env.json.

    \b
    Example:  kvgg fit recipes/quickstart.yaml
              kvgg fit recipes/vgg16_s256.yaml --set optimizer.batch_size=128
    """
    from kvgg.train import fit as fit_recipe

    fit_recipe(recipe, overrides=overrides, smoke=smoke, run_dir=run_dir, echo=click.echo)


@main.group()
def recipe():
    """Inspect training recipes."""


@recipe.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--smoke", is_flag=True, help=_SMOKE_HELP)
def recipe_show(path, overrides, smoke):
    """Print the resolved recipe PATH (defaults filled in, overrides applied) as YAML."""
    from kvgg.recipe import to_yaml
    from kvgg.train import load_recipe

    click.echo(to_yaml(load_recipe(path, overrides, smoke=smoke, check_paths=False)), nl=False)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--output", type=click.Path(dir_okay=False), help="Default: RUN_DIR/curves.png.")
def plot(run_dir, output):
    """Plot the loss, accuracy and learning-rate curves of RUN_DIR to a PNG file."""
    from kvgg.train import plot_run

    click.echo(f"Wrote {plot_run(run_dir, output)}")


# ----------------------------------------------------------------- evaluation: surgery, evaluate


class _Scales(click.ParamType):
    """Comma-separated test scales; bad values end in the group's one-line error."""

    name = "Q,Q,..."

    def convert(self, value, param, ctx):
        from kvgg.evaluate.scales import parse_scales

        return value if isinstance(value, tuple) else parse_scales(value)


_MODEL_HELP = "A .keras classifier, or a `kvgg fit` run directory (its model.keras)."
_SCALES_HELP = (
    "Test scales Q (smallest image side), comma-separated. Default: the paper's preset for "
    "the model's training scale: {S-32, S, S+32} for a fixed S, {S_min, middle, S_max} when "
    "jittered, {256, 384, 512} when unknown."
)


@main.group()
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


@main.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
    help=_MODEL_HELP + " Repeat the option to fuse several models (their posteriors are averaged).",
)
@click.option(
    "--data",
    required=True,
    help="Labelled images: a folder with one subfolder per "
    "class, or any source spec (folder:PATH, tfrecord:PATTERN, digits:test, ...).",
)
@click.option(
    "--method",
    type=click.Choice(["dense", "multicrop", "both"]),
    default="dense",
    show_default=True,
    help="Dense (whole image), 50-crop grid per scale, or both.",
)
@click.option("--scales", type=_Scales(), default=None, help=_SCALES_HELP)
@click.option(
    "--flip/--no-flip", default=True, show_default=True, help="Average in the mirrored image."
)
@click.option(
    "--bucket",
    type=click.IntRange(0),
    default=None,
    help="Dense: pad image sides to a multiple of this many pixels, so that a compiled net "
    "is reused instead of compiled per image size; 0 for exact sizes. Default: 32 on JAX "
    "(fixed-shape compilation), exact on TensorFlow and PyTorch.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the report (errors, per-class accuracy) to this JSON file.",
)
def evaluate(models, data, method, scales, flip, bucket, json_path):
    """Top-1 / top-5 error of one model, or of several fused, by the paper's protocol.

    \b
    kvgg evaluate --model runs/d --data val/ --method both --scales 256,384,512
    """
    from kvgg.evaluate import evaluate_files

    report = evaluate_files(
        models,
        data,
        method=method,
        scales=scales,
        flip=flip,
        bucket="auto" if bucket is None else bucket or None,
        json_path=json_path,
    )
    click.echo(report.table())


@main.command()
@click.option("--model", required=True, help=_MODEL_HELP)
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--scales", type=_Scales(), default=None, help=_SCALES_HELP)
@click.option(
    "--top",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="How many classes to print per image.",
)
def predict(model, images, scales, top):
    """Print the most probable classes of each IMAGE (dense multi-scale evaluation)."""
    from kvgg.evaluate import predict_files

    for image, classes in zip(
        images, predict_files(model, images, scales=scales, top=top), strict=True
    ):
        click.echo(image)
        for name, probability in classes:
            click.echo(f"  {probability:6.1%}  {name}")


@main.command()
@click.option("--model", required=True, help=_MODEL_HELP)
@click.argument("image", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output picture (.png, .pdf, .svg, ...).",
)
@click.option(
    "--scale",
    type=click.IntRange(1),
    default=None,
    help="Test scale Q; default: the middle of the model's default scales.",
)
def scoremap(model, image, out, scale):
    """Draw the dense score map of IMAGE's top class over the image."""
    from kvgg.evaluate import score_map_file

    name, probability = score_map_file(model, image, out, scale=scale)
    click.echo(f"{name} ({probability:.1%}): wrote {out}")


# ----------------------------------------------------------------- weights: kvgg weights import


@main.group()
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


# ----------------------------------------------------------------- transfer: transfer, features


@main.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a recipe value, e.g. --set models.D=vgg16.keras or "
    "--set features.scales=[256] (repeatable; YAML values).",
)
def transfer(recipe_path, overrides):
    """Reproduce a column of the paper's Table 11 with RECIPE (recipes/transfer/*.yaml).

    Extracts VGG descriptors (cached on disk; an interrupted run resumes), trains
    one-vs-rest linear SVMs and writes results.json, report.md and report.json (the
    paper's numbers beside yours) to runs/transfer/<name>; for VOC also the result
    files in the evaluation server's format.

    \b
    Example:  kvgg transfer recipes/transfer/voc2007.yaml
              kvgg transfer recipes/transfer/caltech101.yaml --set models.D=vgg16.keras
    """
    from kvgg.transfer.experiment import run_transfer

    results = run_transfer(recipe_path, overrides)
    with open(os.path.join(results["out_dir"], "report.md")) as report:
        click.echo(report.read(), nl=False)


@main.command()
@click.argument("model", type=click.Path())
@click.argument("data", metavar="SOURCE")
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="The .npz file to write (features, labels, image_ids, class_names, settings).",
)
@click.option(
    "--scales",
    type=_Scales(),
    default="256,384,512",
    show_default=True,
    help="Smallest image sides Q, comma-separated (paper: VOC 256..768, Caltech 256..512).",
)
@click.option(
    "--combine",
    type=click.Choice(["average", "stack"]),
    default="average",
    show_default=True,
    help="Average the per-scale descriptors (VOC) or stack them (Caltech).",
)
@click.option(
    "--flip/--no-flip", default=True, show_default=True, help="Average in the mirrored image."
)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Feature cache (resumable). Default: ~/.cache/kvgg/features.",
)
def features(model, data, out, scales, combine, flip, batch_size, cache_dir):
    """Write L2-normalised 4096-D VGG descriptors (FC-2, dense, paper App. B) of SOURCE.

    MODEL is a .keras classifier or a run directory; SOURCE an image folder or any source
    spec (voc:VOCdevkit?year=2007&split=test, caltech:DIR?kind=101&seed=0, ...). For users
    who bring their own classifier: np.load(OUT)["features"].

    \b
    Example:  kvgg features vgg16.keras voc:data/VOCdevkit?split=test -o voc07_test.npz
    """
    from kvgg.transfer.features import extract_features_file

    path = extract_features_file(
        model,
        data,
        out,
        scales=scales,
        combine=combine,
        flip=flip,
        batch_size=batch_size,
        cache_dir=cache_dir,
    )
    click.echo(f"Wrote {path}")
