from click.testing import CliRunner

from kvgg.cli import main


def test_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "summary" in result.output


def test_summary_prints_per_layer_rows_and_paper_totals():
    result = CliRunner().invoke(main, ["summary", "vgg16"])
    assert result.exit_code == 0, result.output
    assert "block5_conv3" in result.output and "fc1" in result.output
    assert "138,357,544" in result.output
    assert "15.47 GMACs" in result.output
    assert "15,237,608 per image" in result.output


def test_summary_of_a_tiny_bn_model():
    result = CliRunner().invoke(
        main, ["summary", "B", "--width", "0.0625", "--batch-norm", "--image-size", "32"]
    )
    assert result.exit_code == 0, result.output
    assert "block1_conv1_bn" in result.output


def test_unknown_config_exits_2_and_names_it():
    result = CliRunner().invoke(main, ["summary", "F"])
    assert result.exit_code == 2
    assert "config='F'" in result.output
