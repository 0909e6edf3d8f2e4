"""`kvgg fit`, `kvgg recipe show`, `kvgg plot`: training from YAML recipes."""

from __future__ import annotations

import click

from kvgg.cli.options import SET_HELP, SMOKE_HELP, out_option, renamed_option


@click.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--run-dir", type=click.Path(file_okay=False), help="Default: runs/<name>.")
@click.option("--smoke", is_flag=True, help=SMOKE_HELP)
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


@click.group()
def recipe():
    """Inspect training recipes."""


@recipe.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--smoke", is_flag=True, help=SMOKE_HELP)
def recipe_show(path, overrides, smoke):
    """Print the resolved recipe PATH (defaults filled in, overrides applied) as YAML."""
    from kvgg.recipe import to_yaml
    from kvgg.train import load_train_recipe

    recipe = load_train_recipe(path, overrides, smoke=smoke, check_paths=False)
    click.echo(to_yaml(recipe), nl=False)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@out_option("The picture to write (.png, .pdf, .svg, ...). Default: RUN_DIR/curves.png.")
@renamed_option("--output", new="-o/--out", param="out", type=click.Path())
def plot(run_dir, out):
    """Plot the loss, accuracy and learning-rate curves of RUN_DIR to a picture."""
    from kvgg.train import plot_run

    click.echo(f"Wrote {plot_run(run_dir, out)}")
