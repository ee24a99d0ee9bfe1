"""`losslint check --show-losses`: every function treated as a loss, how it reaches Keras and
its verdict, through the same pipeline as `check` (groups, cache, workers); and the `scope`
and `losses` keys of each finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from losslint import api, parallel, tasks
from losslint.inventory import HOW_IT_REACHES_KERAS, describe_source
from losslint.cli import main
from losslint.ftypes import Place, Settings
from losslint.output import JSON_KEYS, LOSS_JSON_KEYS

REPO = Path(__file__).resolve().parents[1]


def line_of(path: str, text: str) -> int:
    """The 1-based line of the one line of `path` (relative to the repository) containing `text`."""
    lines = [n for n, line in enumerate((REPO / path).read_text().splitlines(), 1) if text in line]
    assert len(lines) == 1, (path, text, lines)
    return lines[0]


@pytest.fixture
def in_repo(monkeypatch, tmp_path):
    """Run from the repository, so that fixtures are named `fixtures/...`, with a fresh cache."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("LOSSLINT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str]:
    status = main(["check", "--show-losses", *args])
    return status, capsys.readouterr().out


def losses_json(capsys, *args: str) -> list[dict]:
    status, out = run(capsys, "--format", "json", *args)
    assert status in (0, 1)
    return json.loads(out)


def by_function(records: list[dict]) -> dict[str, dict]:
    found = {r["function"]: r for r in records}
    assert len(found) == len(records), "one record per loss"
    return found


# --- text --------------------------------------------------------------------------------


def test_text_names_each_loss_where_it_is_how_it_reaches_keras_and_its_verdict(in_repo, capsys):
    status, out = run(capsys, "fixtures/crossfile", "--no-cache")
    lines = out.splitlines()
    losses, train, finetune = ("fixtures/crossfile/losses.py", "fixtures/crossfile/train.py",
                               "fixtures/crossfile/finetune.py")
    # Defined in losses.py, compiled in train.py; the reductions are in the helper dice_coef.
    assert (f"{losses}:{line_of(losses, 'def dice_loss(')}: dice_loss "
            f"(compile at {train}:{line_of(train, 'loss=dice_loss')}): "
            f"collapses at {losses}:{line_of(losses, 'intersection = K.sum(gt * pr)')} (LL101, and 2 more)") in lines
    assert (f"{losses}:{line_of(losses, 'def bce_dice_loss(')}: bce_dice_loss "
            f"(compile at {train}:{line_of(train, 'loss=L.bce_dice_loss')}): per-sample") in lines
    assert (f"{finetune}:{line_of(finetune, 'def dice_with_bce(')}: dice_with_bce "
            f"(compile at {finetune}:{line_of(finetune, 'loss=dice_with_bce')}): per-sample") in lines
    # dice_coef is only a metric and a helper here: not a loss.
    assert not any(": dice_coef (" in line for line in lines)
    assert lines[-1] == "8 losses: 4 collapses, 1 coupled, 3 per-sample."
    assert len(lines) == 9
    assert status == 1  # as `check` itself: problems were found


def test_text_for_a_loss_subclass_a_signature_a_wrapper_and_custom_objects(in_repo, capsys):
    _, out = run(capsys, "fixtures/attach/subclass_across_files", "fixtures/attach/signature_library.py",
                 "fixtures/attach/loss_function_wrapper.py", "fixtures/attach/custom_objects.py", "--no-cache")
    lines = out.splitlines()
    sub = "fixtures/attach/subclass_across_files/losses.py"
    assert (f"{sub}:{line_of(sub, 'class BatchDiceLoss') + 1}: BatchDiceLoss.call (Loss subclass): "
            f"collapses at {sub}:{line_of(sub, 'intersection = tf.reduce_sum(y_true * y_pred)  #')} "
            "(LL101, and 2 more)") in lines
    assert f"{sub}:{line_of(sub, 'class SoftDiceLoss') + 1}: SoftDiceLoss.call (Loss subclass): per-sample" in lines
    lib = "fixtures/attach/signature_library.py"
    assert (f"{lib}:{line_of(lib, 'def msle_batch(')}: msle_batch (signature): collapses at "
            f"{lib}:{line_of(lib, 'return tf.reduce_mean(tf.square(first - second))  #')} (LL101)") in lines
    assert f"{lib}:{line_of(lib, 'def msle(')}: msle (signature): per-sample" in lines
    assert not any("r2_score" in line for line in lines)  # a metric by its name
    wrapper = "fixtures/attach/loss_function_wrapper.py"
    assert (f"{wrapper}:{line_of(wrapper, 'def sparse_l1(')}: sparse_l1 (wrapper at "
            f"{wrapper}:{line_of(wrapper, 'LossFunctionWrapper(sparse_l1,')}): per-sample") in lines
    objects = "fixtures/attach/custom_objects.py"
    [edge] = [line for line in lines if ": edge_l1_total (" in line]
    assert edge.startswith(f"{objects}:{line_of(objects, 'def edge_l1_total(')}: edge_l1_total (custom_objects at "
                           f"{objects}:")


def test_a_helper_shared_by_two_losses_collapses_both(in_repo, capsys):
    path = "fixtures/rules/ll101_helpers.py"
    _, out = run(capsys, path, "--no-cache", "--quiet")
    compiled = f"compile at {path}:{line_of(path, 'model.compile(')}"
    collapses = f"collapses at {path}:{line_of(path, 'return tf.reduce_sum(y_true * y_pred)')} (LL101, and 1 more)"
    assert out.splitlines() == [
        f"{path}:{line_of(path, 'def jaccard_loss(')}: jaccard_loss ({compiled}): {collapses}",
        f"{path}:{line_of(path, 'def dice_loss(')}: dice_loss ({compiled}): {collapses}",
        f"{path}:{line_of(path, 'def tversky_loss(')}: tversky_loss ({compiled}): per-sample",
    ]  # --quiet: no summary line


def test_notebook_losses_are_placed_by_cell(in_repo, capsys):
    records = by_function(losses_json(capsys, "fixtures/notebooks/unet_segmentation.ipynb", "--no-cache"))
    dice = records["dice_loss"]
    assert dice["cell"] is not None and dice["site"]["cell"] is not None
    cells = json.loads((REPO / "fixtures/notebooks/unet_segmentation.ipynb").read_text())["cells"]

    def cell_line(cell: int, line: int) -> str:
        source = cells[cell - 1]["source"]
        return ("".join(source) if isinstance(source, list) else source).splitlines()[line - 1]

    assert cell_line(dice["cell"], dice["line"]).startswith("def dice_loss(")
    assert "compile(" in cell_line(dice["site"]["cell"], dice["site"]["line"])
    assert dice["via"] == f"compile at {dice['site']['path']}:cell {dice['site']['cell']}:{dice['site']['line']}"


def test_suppressed_and_deselected_findings_leave_a_loss_suppressed_not_per_sample(in_repo, capsys):
    records = by_function(losses_json(capsys, "fixtures/suppression/losslint_ignore.py", "--no-cache"))
    assert records["mse_batch_known"]["verdict"] == "suppressed"  # a `# losslint: ignore[...]` comment
    assert records["mse_batch_known"]["findings"] == []
    assert records["mae_not_suppressed"]["verdict"] == "collapses"
    records = by_function(losses_json(capsys, "fixtures/crossfile", "--no-cache", "--ignore", "LL101"))
    assert records["dice_loss"]["verdict"] == "suppressed"
    assert [f["code"] for f in records["focal_tversky"]["findings"]] == ["LL102"] * 3
    assert records["bce_dice_loss"]["verdict"] == "per-sample"
    _, out = run(capsys, "fixtures/crossfile", "--no-cache", "--ignore", "LL101")
    assert "dice_loss (compile at fixtures/crossfile/train.py:26): suppressed" in out


def test_a_loss_with_only_a_coupling_is_coupled_and_a_collapse_wins_over_a_coupling(tmp_path, monkeypatch, capsys):
    (tmp_path / "losses.py").write_text(
        "import tensorflow as tf\n\n\n"
        "def relative_mse(y_true, y_pred):\n"
        "    per_sample = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n"
        "    return per_sample / tf.reduce_max(tf.square(y_true))\n\n\n"
        "def relative_total(y_true, y_pred):\n"
        "    total = tf.reduce_sum(tf.square(y_true - y_pred))\n"
        "    per_sample = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n"
        "    return per_sample / tf.reduce_max(tf.square(y_true)) + total\n")
    monkeypatch.chdir(tmp_path)
    _, out = run(capsys, "losses.py", "--no-cache", "--quiet")
    lines = out.splitlines()
    assert lines[0] == "losses.py:4: relative_mse (signature): coupled at losses.py:6 (LL201)"
    # A batch sum added to per-sample values keeps the batch axis: coupled too (LL202, line 10,
    # first in line order), beside the batch statistic (LL201, line 12).
    assert lines[1].startswith("losses.py:9: relative_total (signature): coupled at losses.py:10 (LL202")
    records = by_function(losses_json(capsys, "losses.py", "--no-cache"))
    assert [f["line"] for f in records["relative_total"]["findings"]][0] == 10
    assert {f["code"] for f in records["relative_total"]["findings"]} >= {"LL202", "LL201"}


def test_nothing_to_show(tmp_path, monkeypatch, capsys):
    (tmp_path / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "--no-cache") == (0, "No losses found (1 file scanned).\n")
    assert run(capsys, "--no-cache", "--format", "json") == (0, "[]\n")


# --- JSON -----------------------------------------------------------------------------------


def test_json_has_these_keys_in_this_order():
    # A contract, like the findings' keys: new keys may be added at the end, none renamed.
    assert LOSS_JSON_KEYS == ("path", "line", "cell", "function", "source", "via", "site", "verdict", "findings")


def test_json_records_carry_the_same_facts_as_the_text(in_repo, capsys):
    records = losses_json(capsys, "fixtures/crossfile", "fixtures/attach/subclass_across_files",
                          "fixtures/attach/signature_library.py", "--no-cache")
    assert all(list(r) == list(LOSS_JSON_KEYS) for r in records)
    assert records == sorted(records, key=lambda r: (r["path"], r["cell"] or 0, r["line"], r["function"]))
    found = by_function(records)
    losses = "fixtures/crossfile/losses.py"
    assert found["dice_loss"] == {
        "path": losses,
        "line": line_of(losses, "def dice_loss("),
        "cell": None,
        "function": "dice_loss",
        "source": "compile",
        "via": f"compile at fixtures/crossfile/train.py:{line_of('fixtures/crossfile/train.py', 'loss=dice_loss')}",
        "site": {"path": "fixtures/crossfile/train.py",
                 "line": line_of("fixtures/crossfile/train.py", "loss=dice_loss"), "cell": None},
        "verdict": "collapses",
        "findings": [
            {"code": "LL101", "path": losses, "line": line_of(losses, "intersection = K.sum(gt * pr)"),
             "column": 20, "cell": None},
            {"code": "LL101", "path": losses, "line": line_of(losses, "total = K.sum(gt)"), "column": 13, "cell": None},
            {"code": "LL101", "path": losses, "line": line_of(losses, "total = K.sum(gt)"), "column": 25, "cell": None},
        ],
    }
    assert (found["bce_dice_loss"]["verdict"], found["bce_dice_loss"]["findings"]) == ("per-sample", [])
    subclass = found["BatchDiceLoss.call"]
    assert (subclass["source"], subclass["via"], subclass["site"]) == ("loss-subclass", "Loss subclass", None)
    signature = found["msle_batch"]
    assert (signature["source"], signature["via"], signature["site"], signature["verdict"]) == (
        "signature", "signature", None, "collapses")


def test_findings_name_the_function_holding_the_reduction_and_every_loss_it_reaches(in_repo, capsys):
    path = "fixtures/rules/ll101_helpers.py"
    assert main(["check", path, "--no-cache", "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert [list(f) for f in findings] == [list(JSON_KEYS)] * len(findings)
    assert list(JSON_KEYS)[-2:] == ["scope", "losses"]
    # Each shared reduction is still reported once, under the first loss that reaches it.
    assert [(f["line"], f["function"], f["scope"], f["losses"]) for f in findings] == [
        (line_of(path, "tf.reduce_sum(y_true * y_pred)"), "jaccard_loss", "_soft_intersection",
         ["dice_loss", "jaccard_loss"]),
        (line_of(path, "tf.reduce_sum(a + b)"), "jaccard_loss", "_soft_total", ["dice_loss", "jaccard_loss"]),
    ]


def test_scope_and_losses_across_files(tmp_path, monkeypatch, capsys):
    (tmp_path / "metrics.py").write_text(
        "from tensorflow.keras import backend as K\n\n\n"
        "def dice_coef(y_true, y_pred, smooth=1.0):\n"
        "    intersection = K.sum(y_true * y_pred)\n"
        "    return (2.0 * intersection + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)\n")
    (tmp_path / "losses.py").write_text(
        "import tensorflow as tf\nfrom metrics import dice_coef\n\n\n"
        "def hybrid_loss(y_true, y_pred):\n"
        "    bce = tf.reduce_mean(tf.keras.losses.binary_crossentropy(y_true, y_pred), axis=[1, 2])\n"
        "    return bce + 1.0 - dice_coef(y_true, y_pred)\n\n\n"
        "def plain_dice_loss(y_true, y_pred):\n"
        "    return 1.0 - dice_coef(y_true, y_pred)\n\n\n"
        "def mae(y_true, y_pred):\n"
        "    return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)\n")
    (tmp_path / "train.py").write_text(
        "import tensorflow as tf\nfrom losses import hybrid_loss, plain_dice_loss\nfrom metrics import dice_coef\n\n"
        "model = tf.keras.Sequential([tf.keras.layers.Conv2D(1, 1, activation='sigmoid')])\n"
        "model.compile(optimizer='adam', loss=hybrid_loss, metrics=[dice_coef])\n"
        "model.compile(optimizer='adam', loss=plain_dice_loss)\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache", "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    # The sums collapse plain_dice_loss and are a batch term of hybrid_loss: reported once, as
    # the collapse, and listed by both.
    assert {(f["path"], f["code"], f["function"], f["scope"], tuple(f["losses"])) for f in findings} == {
        ("metrics.py", "LL101", "plain_dice_loss", "dice_coef", ("hybrid_loss", "plain_dice_loss"))}
    assert len(findings) == 3  # three sums, each reported once
    records = by_function(losses_json(capsys, "--no-cache"))
    assert sorted(records) == ["hybrid_loss", "mae", "plain_dice_loss"]
    assert (records["hybrid_loss"]["via"], records["plain_dice_loss"]["via"]) == (
        "compile at train.py:6", "compile at train.py:7")
    assert (records["hybrid_loss"]["verdict"], records["plain_dice_loss"]["verdict"]) == ("coupled", "collapses")
    for name in ("hybrid_loss", "plain_dice_loss"):
        assert [(f["path"], f["line"]) for f in records[name]["findings"]] == [
            ("metrics.py", 5), ("metrics.py", 6), ("metrics.py", 6)]
    assert (records["mae"]["source"], records["mae"]["verdict"]) == ("signature", "per-sample")
    # SARIF carries the same facts as properties of each result.
    assert main(["check", "--no-cache", "--format", "sarif"]) == 1
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert {(r["properties"]["scope"], tuple(r["properties"]["losses"])) for r in results} == {
        ("dice_coef", ("hybrid_loss", "plain_dice_loss"))}


# --- the same through the whole pipeline ---------------------------------------------------


def test_the_grouped_run_gives_the_whole_project_inventory():
    whole = api.scan_paths([str(REPO / "fixtures")], Settings()).report
    grouped = api.check_paths([str(REPO / "fixtures")], Settings(), jobs=1)
    assert grouped.losses == whole.losses
    assert len(whole.losses) > 100
    assert {r.verdict for r in whole.losses} == {"collapses", "coupled", "per-sample", "suppressed"}
    assert {r.source for r in whole.losses} == {"compile", "loss-subclass", "wrapper", "registry", "custom-objects",
                                                "signature"}


def test_cold_and_warm_runs_show_the_same_losses_and_the_warm_one_parses_nothing(in_repo, capsys, monkeypatch):
    args = ["fixtures", "--jobs", "1", "--cache-dir", str(in_repo / "inventory-cache")]
    cold_text = run(capsys, *args)
    cold_json = run(capsys, *args, "--format", "json")
    parsed = []
    original = tasks.load
    monkeypatch.setattr(tasks, "load", lambda *a, **k: parsed.append(a[2]) or original(*a, **k))
    assert run(capsys, *args) == cold_text
    assert run(capsys, *args, "--format", "json") == cold_json
    assert parsed == []  # served from the cache: the records are part of what it keeps
    cache = json.loads(next((in_repo / "inventory-cache").glob("v*.json")).read_text())
    assert any(value["losses"] for value in cache["findings"].values())
    assert cold_text[0] == 1 and len(cold_text[1].splitlines()) > 100


def test_worker_processes_show_the_same_losses_as_one_process(in_repo, capsys, monkeypatch):
    single = run(capsys, "fixtures", "--no-cache", "--jobs", "1", "--format", "json")
    monkeypatch.setattr(parallel, "POOL_THRESHOLD", 1)
    assert parallel.choose_jobs(2, 10) == 2
    assert run(capsys, "fixtures", "--no-cache", "--jobs", "2", "--format", "json") == single
    # and from workers into the cache, then warm
    args = ["fixtures", "--jobs", "2", "--cache-dir", str(in_repo / "pooled-cache"), "--format", "json"]
    assert run(capsys, *args) == single
    assert run(capsys, *args) == single


# --- the command line --------------------------------------------------------------------


def test_show_losses_writes_to_the_output_file_and_keeps_the_exit_status(in_repo, capsys):
    report = in_repo / "losses.txt"
    status, out = run(capsys, "fixtures/crossfile", "--no-cache", "-o", str(report))
    assert (status, out) == (1, "")
    assert report.read_text().splitlines()[-1] == "8 losses: 4 collapses, 1 coupled, 3 per-sample."
    assert run(capsys, "fixtures/crossfile", "--no-cache", "--exit-zero", "--quiet")[0] == 0
    assert run(capsys, "fixtures/crossfile/losses.py", "--no-cache", "--select", "LL2")[0] == 0


@pytest.mark.parametrize("other", [["--statistics"], ["--fix"], ["--diff"]])
def test_show_losses_with_statistics_or_fixes_is_a_usage_error(in_repo, capsys, other):
    assert main(["check", "fixtures/crossfile", "--show-losses", "--no-cache", *other]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "losslint: error: --show-losses cannot be combined with --statistics, --fix or --diff\n"


def test_how_a_loss_reaches_keras_is_data():
    assert describe_source("compile", Place("train.py", 40)) == "compile at train.py:40"
    assert describe_source("custom-objects", Place("x.py", 3)) == "custom_objects at x.py:3"
    assert describe_source("loss-subclass", None) == "Loss subclass"
    assert describe_source("compile", Place("nb.ipynb", 2, cell=7)) == "compile at nb.ipynb:cell 7:2"
    # A source the table does not know yet still reads sensibly.
    assert describe_source("plugin", Place("x.py", 9)) == "plugin at x.py:9"
    assert describe_source("plugin", None) == "plugin"
    assert describe_source("registry", None) == "put in a registry of losses"
    assert set(HOW_IT_REACHES_KERAS) == {"compile", "loss-subclass", "wrapper", "registry", "custom-objects",
                                         "signature"}


def test_the_cheap_line_of_a_call_is_libcst_s_line():
    # The inventory finds a call's line from the start of its text (`inventory._call_line`)
    # rather than by generating the module's code: on every call of the fixtures, the line
    # it gives (when it gives one) must be the one LibCST's positions give.
    from losslint.inventory import _call_line
    from losslint.project import _positions

    scan = api.scan_paths([str(REPO / "fixtures"), str(REPO / "demo")], Settings())
    checked = found = 0
    for module in scan.project.modules:
        positions = _positions(module.tree)
        for sites in module.calls_by_name.values():
            for site in sites:
                checked += 1
                line = _call_line(module.source, site.call)
                if line is not None:
                    found += 1
                    assert line == positions[site.call].start.line, (module.display, line)
    assert checked > 1000 and found > checked // 2


def test_the_cheap_line_of_a_loss_is_libcst_s_line():
    # Likewise the `def` line of each loss (`inventory._DefinitionLines`) against LibCST's
    # position of the `def` keyword, for every function of the fixtures.
    import libcst as cst

    from losslint.inventory import _DefinitionLines
    from losslint.project import _positions

    scan = api.scan_paths([str(REPO / "fixtures"), str(REPO / "demo")], Settings())
    lines = _DefinitionLines()
    checked = 0
    for module in scan.project.modules:
        if module.notebook is not None:
            continue  # placed by cell: the notebook tests above
        positions = None
        for function in module.functions:
            if isinstance(function.node, cst.FunctionDef):
                positions = positions or _positions(module.tree)
                checked += 1
                # LibCST's range of a `def` starts at its decorators; the name is on the `def` line
                assert lines.place(function).line == positions[function.node.name].start.line, function.qualname
    assert checked > 300
