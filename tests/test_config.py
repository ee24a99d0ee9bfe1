"""Configuration files: where they are found, what they may say, and how the command line wins.

These run the real analysis on small projects in tmp_path, from inside tmp_path (monkeypatch
chdir), so that messages name files as a user would see them.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from losslint import api, config
from losslint.cli import main
from losslint.ftypes import Settings

MEAN_LOSS = textwrap.dedent(
    """\
    import tensorflow as tf

    def mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))
    """
)
L2_LOSS = textwrap.dedent(
    """\
    import tensorflow as tf

    def l2(y_true, y_pred):
        return tf.nn.l2_loss(y_true - y_pred)
    """
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def codes_by_path(capsys) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in json.loads(capsys.readouterr().out):
        found.setdefault(finding["path"], set()).add(finding["code"])
    return found


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project folder that is also the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- finding the file -----------------------------------------------------------------------


def test_pyproject_tool_losslint_is_read(project, capsys):
    write(project / "pyproject.toml", '[project]\nname = "x"\n\n[tool.losslint]\nignore = ["LL101"]\n')
    write(project / "train.py", MEAN_LOSS + L2_LOSS)
    assert main(["check", "--format", "json"]) == 1
    assert codes_by_path(capsys) == {"train.py": {"LL104"}}


def test_losslint_toml_uses_top_level_keys(project, capsys):
    write(project / "losslint.toml", 'select = ["LL101"]\n')
    write(project / "train.py", MEAN_LOSS + L2_LOSS)
    assert main(["check", "--format", "json"]) == 1
    assert codes_by_path(capsys) == {"train.py": {"LL101"}}


def test_the_nearest_file_upward_from_the_first_path_wins(project):
    write(project / "pyproject.toml", '[tool.losslint]\nignore = ["LL101"]\n')
    write(project / "sub" / "losslint.toml", 'ignore = ["LL104"]\n')
    write(project / "sub" / "deep" / "train.py", MEAN_LOSS)
    assert config.find_config(["sub/deep/train.py"]) == project / "sub" / "losslint.toml"
    assert config.find_config(["sub/deep"]) == project / "sub" / "losslint.toml"
    assert config.find_config(["."]) == project / "pyproject.toml"


def test_a_pyproject_without_the_table_is_passed_over(project):
    write(project / "losslint.toml", 'ignore = ["LL104"]\n')
    write(project / "pkg" / "pyproject.toml", '[project]\nname = "pkg"\n')
    assert config.find_config(["pkg"]) == project / "losslint.toml"


def test_losslint_toml_beats_pyproject_in_the_same_folder(project):
    write(project / "pyproject.toml", '[tool.losslint]\nignore = ["LL101"]\n')
    write(project / "losslint.toml", 'ignore = ["LL104"]\n')
    assert config.find_config(["."]) == project / "losslint.toml"


def test_no_file_means_the_defaults(project):
    resolved = config.resolve(["."], {})
    assert resolved.settings == Settings()
    assert resolved.config is None
    assert set(resolved.origins.values()) == {config.DEFAULT}


def test_config_option_names_the_file_and_isolated_ignores_all(project, capsys):
    write(project / "pyproject.toml", '[tool.losslint]\nignore = ["LL101"]\n')
    write(project / "ci" / "strict.toml", 'ignore = ["LL104"]\n')
    write(project / "train.py", MEAN_LOSS + L2_LOSS)
    assert main(["check", "--format", "json", "--config", "ci/strict.toml"]) == 1
    assert codes_by_path(capsys) == {"train.py": {"LL101"}}
    assert main(["check", "--format", "json", "--isolated"]) == 1
    assert codes_by_path(capsys) == {"train.py": {"LL101", "LL104"}}


def test_a_missing_config_file_is_an_error(project, capsys):
    assert main(["check", "--config", "nope.toml"]) == 2
    assert capsys.readouterr().err == "losslint: error: nope.toml: no such configuration file\n"


# --- mistakes are one-line errors with exit 2 -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("pyproject.toml", "[tool.losslint]\nselct = ['LL1']\n",
         "pyproject.toml: [tool.losslint] unknown key 'selct'"),
        ("losslint.toml", "selct = ['LL1']\n", "losslint.toml: unknown key 'selct'"),
        ("losslint.toml", "select = 'LL1'\n",
         "losslint.toml: 'select' must be a list of rule codes, not a string"),
        ("pyproject.toml", "[tool.losslint]\nrespect-gitignore = 'no'\n",
         "pyproject.toml: [tool.losslint] 'respect-gitignore' must be true or false, not a string"),
        ("losslint.toml", "ignore = ['LL10x']\n",
         "losslint.toml: 'ignore': unknown rule selector 'LL10X'"),
        ("losslint.toml", "exclude = [1]\n",
         "losslint.toml: 'exclude' must be a list of gitignore-style patterns, not an array"),
        ("losslint.toml", "exclude = ['!']\n",
         "losslint.toml: 'exclude': invalid exclude pattern '!'"),
        ("losslint.toml", "per-file-ignores = ['tests/*']\n",
         "losslint.toml: 'per-file-ignores' must be a table of file pattern = [rule codes], not an array"),
        ("losslint.toml", "per-file-ignores = { 'tests/*' = ['E501'] }\n",
         "losslint.toml: 'per-file-ignores': unknown rule selector 'E501'"),
        ("losslint.toml", "keeps-batch = ['ops.safe-mean']\n",
         "losslint.toml: 'keeps-batch': 'ops.safe-mean' is not a dotted name"),
        ("pyproject.toml", "[tool.losslint\n", None),
    ],
)
def test_a_bad_file_is_one_line_naming_it_and_exits_2(project, capsys, name, text, message):
    write(project / name, text)
    write(project / "train.py", MEAN_LOSS)
    assert main(["check"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    if message is None:
        assert err.startswith(f"losslint: error: {name}: invalid TOML: ")
    else:
        assert err.startswith(f"losslint: error: {message}")


def test_losslint_config_reports_a_bad_file_too(project, capsys):
    write(project / "losslint.toml", "selct = []\n")
    assert main(["config"]) == 2
    assert capsys.readouterr().err == "losslint: error: losslint.toml: unknown key 'selct'\n"


# --- the command line wins ------------------------------------------------------------------


def test_command_line_select_replaces_the_files(project, capsys):
    write(project / "losslint.toml", 'select = ["LL104"]\n')
    write(project / "train.py", MEAN_LOSS + L2_LOSS)
    assert main(["check", "--format", "json", "--select", "LL101"]) == 1
    assert codes_by_path(capsys) == {"train.py": {"LL101"}}


def test_command_line_respect_gitignore_replaces_the_files(project, capsys):
    (project / ".git").mkdir()
    write(project / ".gitignore", "generated/\n")
    write(project / "generated" / "train.py", MEAN_LOSS)
    write(project / "losslint.toml", "respect-gitignore = false\n")
    assert main(["check", "--format", "json"]) == 1
    assert codes_by_path(capsys) == {"generated/train.py": {"LL101"}}
    assert main(["check", "--format", "json", "--respect-gitignore"]) == 0
    assert codes_by_path(capsys) == {}


# --- what the keys do -----------------------------------------------------------------------


def test_exclude_in_a_file_is_anchored_at_the_files_folder(tmp_path, monkeypatch, capsys):
    proj = tmp_path / "proj"
    write(proj / "losslint.toml", 'exclude = ["src/old/"]\n')
    write(proj / "src" / "old" / "a.py", MEAN_LOSS)
    write(proj / "src" / "new" / "b.py", MEAN_LOSS)
    monkeypatch.chdir(tmp_path)  # not the project folder: the pattern still means proj/src/old
    assert main(["check", "proj", "--format", "json"]) == 1
    assert codes_by_path(capsys) == {"proj/src/new/b.py": {"LL101"}}


def test_command_line_exclude_replaces_exclude_but_keeps_extend_exclude(project, capsys):
    write(project / "losslint.toml", 'exclude = ["a/"]\nextend-exclude = ["b/"]\n')
    for folder in "abc":
        write(project / folder / "loss.py", MEAN_LOSS)
    assert main(["check", "--format", "json"]) == 1
    assert set(codes_by_path(capsys)) == {"c/loss.py"}
    assert main(["check", "--format", "json", "--exclude", "c/"]) == 1
    assert set(codes_by_path(capsys)) == {"a/loss.py"}


def test_per_file_ignores_drop_codes_in_matching_files_only(project, capsys):
    write(
        project / "pyproject.toml",
        '[tool.losslint]\nper-file-ignores = { "tests/" = ["LL1"], "*_l2.py" = ["LL104"] }\n',
    )
    write(project / "tests" / "test_loss.py", MEAN_LOSS)
    write(project / "src" / "loss.py", MEAN_LOSS)
    write(project / "src" / "my_l2.py", L2_LOSS + MEAN_LOSS.split("\n", 1)[1])
    assert main(["check", "--format", "json"]) == 1
    assert codes_by_path(capsys) == {"src/loss.py": {"LL101"}, "src/my_l2.py": {"LL101"}}


def test_per_file_ignores_are_not_outranked_by_a_longer_select(project, capsys):
    write(project / "losslint.toml", 'select = ["LL101"]\nper-file-ignores = { "legacy.py" = ["LL1"] }\n')
    write(project / "legacy.py", MEAN_LOSS)
    assert main(["check", "--format", "json"]) == 0
    assert codes_by_path(capsys) == {}


def test_escape_hatches_reach_the_settings(project):
    write(
        project / "losslint.toml",
        'keeps-batch = ["mypkg.ops.safe_mean", "safe_sum"]\nnot-losses = ["dice_coef", "mypkg.metrics.*"]\n',
    )
    settings = config.resolve(["."], {}).settings
    assert settings.keeps_batch == ("mypkg.ops.safe_mean", "safe_sum")
    assert settings.not_losses == ("dice_coef", "mypkg.metrics.*")


# --- showing the settings -------------------------------------------------------------------


def test_losslint_config_shows_each_setting_and_its_origin(project, capsys):
    write(project / "pyproject.toml", '[tool.losslint]\nignore = ["LL201"]\nkeeps-batch = ["safe_mean"]\n')
    assert main(["config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# configuration file: pyproject.toml"
    rows = {line.split("=")[0].strip(): line for line in lines[1:]}
    assert set(rows) == {key.name for key in config.KEYS}
    assert rows["ignore"].split("#")[0].split("=")[1].strip() == '["LL201"]'
    assert rows["ignore"].endswith("# pyproject.toml")
    assert rows["keeps-batch"].endswith("# pyproject.toml")
    assert rows["select"].endswith("# default")


def test_show_settings_marks_command_line_values_and_checks_nothing(project, capsys, monkeypatch):
    write(project / "losslint.toml", 'ignore = ["LL201"]\n')
    monkeypatch.setattr(api, "check_paths", lambda *_: pytest.fail("must not check"))
    assert main(["check", "--show-settings", "--ignore", "LL104", "--exclude", "old/"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["ignore"].split("#")[0].split("=")[1].strip() == '["LL104"]'
    assert rows["ignore"].endswith("# command line")
    assert rows["exclude"].split("#")[0].split("=")[1].strip() == '["old/"]'
    assert rows["exclude"].endswith("# command line")
    assert rows["select"].endswith("# default")


def test_settings_printed_by_config_are_valid_toml_for_losslint_toml(project, capsys, tmp_path):
    write(project / "losslint.toml", 'per-file-ignores = { "tests/" = ["LL1", "LL201"] }\nexclude = ["a\\"b"]\n')
    assert main(["config"]) == 0
    printed = capsys.readouterr().out
    copy = write(tmp_path / "copy" / "losslint.toml", "\n".join(printed.splitlines()[1:]) + "\n")
    assert config.load_config(copy).values["per_file_ignores"] == (("tests/", ("LL1", "LL201")),)
    assert config.load_config(copy).values["exclude"] == ('a"b',)


# --- the README's example is a working configuration ----------------------------------------


def test_the_readme_example_configuration_loads_and_every_key_is_documented(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    loaded = config.load_config(write(tmp_path / "pyproject.toml", example))
    assert loaded.values["keeps_batch"] == ("mypkg.ops.safe_mean", "masked_mean")
    assert loaded.values["per_file_ignores"] == (("tests/", ("LL1",)), ("notebooks/*.ipynb", ("LL201",)))
    assert set(loaded.values) == {key.field for key in config.KEYS}
    for key in config.KEYS:
        assert f"| `{key.name}` |" in section, key.name


def test_probe_shapes_and_timeout_are_read_and_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "losslint.toml", 'probe-shapes = ["y_pred=(None, 64, 64, 1)"]\nprobe-timeout = 5\n')
    resolved = config.resolve(["."], {})
    assert resolved.settings.probe_shapes == ("y_pred=(None, 64, 64, 1)",)
    assert resolved.settings.probe_timeout == 5.0
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "probe-timeout     = 5.0" in out and "losslint.toml" in out

    write(tmp_path / "losslint.toml", 'probe-shapes = ["y_pred=(None, 0)"]\n')
    assert main(["check", "."]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("losslint: error: losslint.toml:") and "probe-shapes" in err
    assert len(err.splitlines()) == 1

    write(tmp_path / "losslint.toml", "probe-timeout = 0\n")
    assert main(["check", "."]) == 2
    assert "probe-timeout" in capsys.readouterr().err
