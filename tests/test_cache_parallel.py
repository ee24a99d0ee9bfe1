"""The cache (losslint/cache.py), the grouped analysis (losslint/incremental.py), worker
processes (losslint/parallel.py) and the progress bar (losslint/progress.py).

The grouped analysis must give exactly what one whole-project analysis gives
(`api.scan_paths`); the cache must give what a cold run gives, and notice every change.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from losslint import api, incremental, parallel, tasks
from losslint import cache as cachelib
from losslint.cli import main
from losslint.ftypes import Settings
from losslint.progress import Progress

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CACHE_FILE = f"v{cachelib.FORMAT}.json"  # the cache's one file (losslint/cache.py)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


PROJECT = {
    "helpers.py": "import tensorflow as tf\n\ndef agg(x):\n    return tf.reduce_sum(x)\n",
    "losses.py": "import tensorflow as tf\nfrom helpers import agg\n\ndef pixel_loss(a, b):\n    return agg(a - b)\n",
    "train.py": ("import tensorflow as tf\nfrom losses import pixel_loss\n\n"
                 "model = tf.keras.Sequential()\nmodel.compile(optimizer='adam', loss=pixel_loss)\n"),
    "other.py": ("import tensorflow as tf\n\ndef mse(y_true, y_pred):\n"
                 "    return tf.reduce_mean(tf.square(y_true - y_pred))\n"),
    "plain.py": "def add(x, y):\n    return x + y\n",
}


def summary(report):
    return [(f.path, f.line, f.column, f.code, f.function, f.message) for f in report.findings]


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    write(root, PROJECT)
    monkeypatch.chdir(tmp_path)
    return root


class CountingLoads:
    """Counts the files a group's analysis parses with LibCST (`tasks.load` into a group's
    project, whose loader parses its pending files), by display path; not the one-file
    parse that words a syntax error of a file only checked with Python's parser."""

    def __init__(self, monkeypatch) -> None:
        self.parsed: list[str] = []
        original = tasks.load

        def load(project, path, display, data, module=None):
            if project._load is not None:
                self.parsed.append(display)
            return original(project, path, display, data, module)

        monkeypatch.setattr(tasks, "load", load)


# --- the grouped analysis is the whole-project analysis -------------------------------------


@pytest.mark.parametrize("folder", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) + ["."])
def test_grouped_analysis_matches_the_whole_project(folder):
    target = str(FIXTURES / folder) if folder != "." else str(FIXTURES)
    whole = api.scan_paths([target], Settings()).report
    grouped = api.check_paths([target], Settings(), jobs=1)
    assert grouped.findings == whole.findings
    assert grouped.paths_scanned == whole.paths_scanned
    assert grouped.errors == whole.errors


def test_worker_processes_give_the_same_report(monkeypatch):
    monkeypatch.setattr(parallel, "POOL_THRESHOLD", 1)
    assert parallel.choose_jobs(2, 10) == 2
    whole = api.scan_paths([str(FIXTURES)], Settings()).report
    pooled = api.check_paths([str(FIXTURES)], Settings(), jobs=2)
    assert pooled.findings == whole.findings
    assert pooled.paths_scanned == whole.paths_scanned


def test_a_metric_of_the_same_name_in_an_unrelated_file_does_not_excuse_a_loss(tmp_path):
    # Evidence is about a function, not its name: b.py never imports a.py, so its `overlap`
    # metric is some other function, and a.py's collapsing `overlap` stays a loss, grouped
    # or whole. When b.py imports a.py's function and uses it as a metric, it is excused.
    write(tmp_path, {
        "a.py": "import tensorflow as tf\n\ndef overlap(y_true, y_pred):\n"
                "    return tf.reduce_mean(y_true * y_pred)\n",
        "b.py": "import tensorflow as tf\nmodel = tf.keras.Sequential()\n"
                "model.compile(optimizer='adam', loss='mse', metrics=[overlap])\n",
    })
    kept = [incremental._File(tmp_path / n, n, (tmp_path / n).read_bytes(), "", n[:-3]) for n in ("a.py", "b.py")]
    assert incremental.groups_of(kept) == [[0], [1]]
    whole = api.scan_paths([str(tmp_path)], Settings()).report
    assert [f.function for f in whole.findings] == ["overlap"]
    assert api.check_paths([str(tmp_path)], Settings(), jobs=1).findings == whole.findings
    (tmp_path / "b.py").write_text("from a import overlap\n" + (tmp_path / "b.py").read_text())
    assert api.scan_paths([str(tmp_path)], Settings()).report.findings == []
    assert api.check_paths([str(tmp_path)], Settings(), jobs=1, cache_dir=None).findings == []


# --- groups no loss can be in are not parsed (the prefilter's second stage) -----------------

MODEL = ("import tensorflow as tf\nfrom tensorflow import keras\n\n\ndef build(classes=10):\n"
         "    inputs = keras.Input(shape=(32, 32, 3))\n"
         "    x = keras.layers.Conv2D(16, 3, activation='relu')(inputs)\n"
         "    x = tf.reduce_mean(x, axis=[1, 2])\n"
         "    return keras.Model(inputs, keras.layers.Dense(classes)(x))\n")
PIPELINE = ("import tensorflow as tf\n\n\ndef images(files, batch=32):\n"
            "    ds = tf.data.Dataset.from_tensor_slices(files)\n"
            "    return ds.shuffle(1000).batch(batch).prefetch(tf.data.AUTOTUNE)\n")


def test_groups_without_a_loss_entry_word_are_not_parsed(tmp_path, monkeypatch):
    write(tmp_path, {**PROJECT, "backbone.py": MODEL, "pipeline.py": PIPELINE})
    loads = CountingLoads(monkeypatch)
    grouped = api.check_paths([str(tmp_path)], Settings(), jobs=1)
    assert sorted(Path(p).name for p in loads.parsed) == ["helpers.py", "losses.py", "other.py", "train.py"]
    assert summary(grouped) == summary(api.scan_paths([str(tmp_path)], Settings()).report)
    # Once the training script imports the model file, they are one group, but the model
    # file (no entry word) is parsed only if a loss leads into it: here none does.
    (tmp_path / "train.py").write_text("from backbone import build\n" + PROJECT["train.py"])
    loads.parsed.clear()
    grouped = api.check_paths([str(tmp_path)], Settings(), jobs=1)
    assert sorted(Path(p).name for p in loads.parsed) == ["helpers.py", "losses.py", "other.py", "train.py"]
    assert summary(grouped) == summary(api.scan_paths([str(tmp_path)], Settings()).report)
    # A loss that calls into it: parsed, and the batch reduction found there.
    (tmp_path / "train.py").write_text(
        "import tensorflow as tf\nimport backbone\n\ndef pooled(a, b):\n    return backbone.head(a - b)\n\n"
        "model = tf.keras.Sequential()\nmodel.compile(optimizer='adam', loss=pooled)\n")
    (tmp_path / "backbone.py").write_text(MODEL + "\n\ndef head(x):\n    return tf.reduce_mean(x)\n")
    loads.parsed.clear()
    grouped = api.check_paths([str(tmp_path)], Settings(), jobs=1)
    assert "backbone.py" in {Path(p).name for p in loads.parsed}
    assert ("backbone.py", "LL101") in {(Path(f.path).name, f.code) for f in grouped.findings}
    assert summary(grouped) == summary(api.scan_paths([str(tmp_path)], Settings()).report)


@pytest.mark.parametrize("broken, code, words", [
    (MODEL + "def head(x:\n    return x\n", "LL901", "syntax error"),
    ("import tensorflow as tf\nx = " + "-" * 3000 + "1\n", "LL901", "nested too deeply"),
    (b"import tensorflow as tf\nname = '\xff\xfe'\n", "LL902", "cannot decode"),
])
def test_a_file_of_a_quiet_group_still_reports_its_own_errors(tmp_path, monkeypatch, broken, code, words):
    write(tmp_path, PROJECT)
    target = tmp_path / "backbone.py"
    target.write_bytes(broken if isinstance(broken, bytes) else broken.encode())
    loads = CountingLoads(monkeypatch)
    grouped = api.check_paths([str(tmp_path)], Settings(), jobs=1)
    assert "backbone.py" not in {Path(p).name for p in loads.parsed}
    mine = [f for f in grouped.findings if f.path.endswith("backbone.py")]
    assert [f.code for f in mine] == [code] and words in mine[0].message
    assert summary(grouped) == summary(api.scan_paths([str(tmp_path)], Settings()).report)


def test_a_strategy_step_that_cannot_name_the_loss_does_not_excuse_it(tmp_path, monkeypatch):
    # `strategy.run(step)` excuses what the step calls, resolved through its imports: this
    # steps.py never imports losses.py, so its `pixel_loss(...)` is not that function, and the
    # loss is reported, whole or grouped (steps.py's group has no entry word: quiet).
    write(tmp_path, {
        "losses.py": "import tensorflow as tf\n\ndef pixel_loss(y_true, y_pred):\n"
                     "    return tf.reduce_sum(tf.abs(y_true - y_pred))\n",
        "steps.py": "import tensorflow as tf\n\ndef step(batch):\n    return pixel_loss(batch, batch)\n",
        "loop.py": "import tensorflow as tf\nstrategy = tf.distribute.MirroredStrategy()\n"
                   "strategy.run(step, args=(1,))\n",
    })
    whole = api.scan_paths([str(tmp_path)], Settings()).report
    assert [f.function for f in whole.findings] == ["pixel_loss"]
    assert api.check_paths([str(tmp_path)], Settings(), jobs=1).findings == whole.findings


def test_a_strategy_step_in_an_unparsed_file_of_an_active_group_is_still_read(tmp_path, monkeypatch):
    # steps.py shares a group with a file that has a loss: the group is analysed while
    # steps.py (no entry word) waits to be parsed on demand; the strategy call names `step`
    # through an import, which parses steps.py, whose `pixel_loss` is losses.py's.
    write(tmp_path, {
        "losses.py": "import tensorflow as tf\n\ndef pixel_loss(y_true, y_pred):\n"
                     "    return tf.reduce_sum(tf.abs(y_true - y_pred))\n",
        "steps.py": "import tensorflow as tf\nfrom losses import pixel_loss\n\n"
                    "def step(batch):\n    return pixel_loss(batch, batch)\n",
        "loop.py": "import tensorflow as tf\nfrom steps import step\nstrategy = tf.distribute.MirroredStrategy()\n"
                   "strategy.run(step, args=(1,))\n",
    })
    loads = CountingLoads(monkeypatch)
    assert api.scan_paths([str(tmp_path)], Settings()).report.findings == []
    loads.parsed.clear()
    assert summary(api.check_paths([str(tmp_path)], Settings(), jobs=1)) == []
    assert "steps.py" in {Path(p).name for p in loads.parsed}
    # Without the strategy call, steps.py is never parsed and the loss is reported.
    (tmp_path / "loop.py").write_text("import tensorflow as tf\n")
    loads.parsed.clear()
    assert [f.function for f in api.check_paths([str(tmp_path)], Settings(), jobs=1).findings] == ["pixel_loss"]
    assert "steps.py" not in {Path(p).name for p in loads.parsed}


# --- the cache --------------------------------------------------------------------------------


def test_a_warm_run_gives_the_cold_findings_without_parsing(project, monkeypatch):
    cache = str(project.parent / "cache")
    cold = api.check_paths([str(project)], Settings(), cache_dir=cache, jobs=1)
    assert {f.path.rsplit("/", 1)[-1] for f in cold.findings} == {"helpers.py", "other.py"}
    loads = CountingLoads(monkeypatch)
    warm = api.check_paths([str(project)], Settings(), cache_dir=cache, jobs=1)
    assert summary(warm) == summary(cold)
    assert warm.paths_scanned == cold.paths_scanned
    assert loads.parsed == []


def test_an_edit_changes_the_findings_of_the_file_and_of_its_dependents(project, monkeypatch):
    cache = str(project.parent / "cache")
    api.check_paths([str(project)], Settings(), cache_dir=cache, jobs=1)
    loads = CountingLoads(monkeypatch)
    # The helper keeps the batch now: the finding in helpers.py (reached from train.py's
    # compile through losses.py) goes; other.py's group is not parsed again.
    (project / "helpers.py").write_text(PROJECT["helpers.py"].replace("reduce_sum(x)", "reduce_sum(x, axis=-1)"))
    after = api.check_paths([str(project)], Settings(), cache_dir=cache, jobs=1)
    assert [Path(f.path).name for f in after.findings] == ["other.py"]
    assert sorted(Path(p).name for p in loads.parsed) == ["helpers.py", "losses.py", "train.py"]
    # Undo it in the compiling file's dependency instead: train.py stops compiling the loss.
    (project / "helpers.py").write_text(PROJECT["helpers.py"])
    again = api.check_paths([str(project)], Settings(), cache_dir=cache, jobs=1)
    assert [Path(f.path).name for f in again.findings] == ["helpers.py", "other.py"]
    (project / "train.py").write_text("import tensorflow as tf\nfrom losses import pixel_loss\n")
    final = api.check_paths([str(project)], Settings(), cache_dir=cache, jobs=1)
    assert [Path(f.path).name for f in final.findings] == ["other.py"]
    assert summary(final) == summary(api.scan_paths([str(project)], Settings()).report)


def test_settings_are_part_of_the_key(project):
    cache = str(project.parent / "cache")
    everything = api.check_paths([str(project)], Settings(), cache_dir=cache, jobs=1)
    only = api.check_paths([str(project)], Settings(not_losses=("mse",)), cache_dir=cache, jobs=1)
    assert len(everything.findings) == 2
    assert [Path(f.path).name for f in only.findings] == ["helpers.py"]


def test_a_corrupt_cache_file_is_ignored_and_rewritten(project):
    cache = project.parent / "cache"
    cold = api.check_paths([str(project)], Settings(), cache_dir=str(cache), jobs=1)
    (cache / CACHE_FILE).write_text('{"fingerprint": tru')
    assert summary(api.check_paths([str(project)], Settings(), cache_dir=str(cache), jobs=1)) == summary(cold)
    json.loads((cache / CACHE_FILE).read_text())  # valid again
    # Entries of the wrong shape under the right fingerprint are misses too.
    data = json.loads((cache / CACHE_FILE).read_text())
    for section in ("skipped", "quiet", "components", "findings"):
        data[section] = {key: "garbage" for key in data[section]}
    (cache / CACHE_FILE).write_text(json.dumps(data))
    assert summary(api.check_paths([str(project)], Settings(), cache_dir=str(cache), jobs=1)) == summary(cold)


def test_two_concurrent_runs_share_a_cache_folder(project):
    cache = project.parent / "shared"
    command = [sys.executable, "-m", "losslint", "check", "--format", "json", "--cache-dir", str(cache),
               str(project)]
    expected = subprocess.run([*command[:-3], "--no-cache", str(project)], capture_output=True, text=True,
                              cwd=project.parent)
    for _ in range(2):  # cold, then warm, each time two at once
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 cwd=project.parent) for _ in range(2)]
        for run in runs:
            out, err = run.communicate(timeout=120)
            assert run.returncode == 1, err
            assert json.loads(out) == json.loads(expected.stdout)
    json.loads((cache / CACHE_FILE).read_text())
    assert (cache / ".gitignore").read_text().strip().endswith("*")


def test_the_cli_caches_in_the_working_directory_unless_told_otherwise(project, monkeypatch, capsys):
    monkeypatch.delenv("LOSSLINT_CACHE_DIR", raising=False)
    assert main(["check", "-q", str(project)]) == 1
    assert (project.parent / ".losslint_cache" / CACHE_FILE).is_file()
    monkeypatch.setenv("LOSSLINT_CACHE_DIR", str(project.parent / "env-cache"))
    assert main(["check", "-q", str(project)]) == 1
    assert (project.parent / "env-cache" / CACHE_FILE).is_file()
    assert main(["check", "-q", "--no-cache", "--cache-dir", str(project.parent / "never"), str(project)]) == 1
    assert not (project.parent / "never").exists()
    # The cache folder is never scanned, even when it sits inside the checked tree.
    assert main(["check", "--format", "json", "--cache-dir", str(project / ".losslint_cache"), str(project)]) == 1
    capsys.readouterr()
    assert main(["check", "--format", "json", "--no-cache", str(project)]) == 1
    paths = {f["path"] for f in json.loads(capsys.readouterr().out)}
    assert not any(".losslint_cache" in p for p in paths)


# --- processes and progress -------------------------------------------------------------------


def test_no_pool_for_small_runs_nor_inside_a_worker(monkeypatch):
    assert parallel.choose_jobs(None, parallel.POOL_THRESHOLD - 1) == 1
    assert parallel.choose_jobs(1, 10_000) == 1
    monkeypatch.setattr(parallel, "_IN_WORKER", True)
    assert parallel.choose_jobs(8, 10_000) == 1


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal_and_erases_itself():
    assert Progress.for_stream(io.StringIO()) is None  # a file or a pipe: silent
    terminal = FakeTerminal()
    bar = Progress.for_stream(terminal, min_files=10)
    assert bar is not None
    bar(0, 5)  # a short run: nothing
    assert terminal.getvalue() == ""
    bar(3, 20)
    bar(20, 20)
    assert "20/20 files" in terminal.getvalue()
    bar.close()
    assert terminal.getvalue().endswith("\r")
    assert terminal.getvalue().rsplit("\r", 2)[-2].strip() == ""


def test_progress_is_reported_for_every_file(project):
    seen = []
    api.check_paths([str(project)], Settings(), jobs=1, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (5, 5)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_the_cli_is_silent_on_stderr_when_it_is_not_a_terminal(project, monkeypatch, capsys):
    import losslint.progress

    monkeypatch.setattr(losslint.progress, "MIN_FILES", 1)
    assert main(["check", "-q", "--no-cache", str(project)]) == 1
    assert capsys.readouterr().err == ""


def test_the_cli_passes_jobs_and_the_cache_folder_on(project, monkeypatch, capsys):
    seen = {}
    original = incremental.check

    def spy(paths, settings, **options):
        seen.update(options)
        return original(paths, settings, **options)

    monkeypatch.setattr(incremental, "check", spy)
    assert main(["check", "-q", "--jobs", "1", "--cache-dir", str(project.parent / "c"), str(project)]) == 1
    assert seen["jobs"] == 1 and seen["cache_dir"] == str(project.parent / "c")
    assert main(["check", "-q", "--no-cache", str(project)]) == 1
    assert seen["jobs"] is None and seen["cache_dir"] is None


def test_a_warm_run_imports_neither_libcst_nor_the_analysis(project):
    # Importing LibCST and the analysis was a third of a warm run's time: a run served from
    # the cache must not need them (nor pathspec, when no pattern is given).
    cache = str(project.parent / "cache")
    script = ("import sys\nfrom losslint.cli import main\n"
              f"status = main(['check', '-o', 'report.txt', '--cache-dir', {cache!r}, {str(project)!r}])\n"
              "heavy = sorted(m for m in ('libcst', 'losslint.analysis', 'losslint.project', 'pathspec')"
              " if m in sys.modules)\n"
              "print(status, heavy)\n")
    cold = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project.parent)
    assert cold.stdout.split()[0] == "1" and "libcst" in cold.stdout, cold.stderr
    warm = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project.parent)
    assert warm.stdout.strip() == "1 []", warm.stderr


def test_shared_tasks_fill_idle_workers_and_results_keep_task_order(tmp_path):
    # Pinned tasks run in their worker (a group's trees stay where it was parsed); tasks for
    # any worker go to whichever is idle. Results come back in task order either way.
    files = []
    for n in range(6):
        path = tmp_path / f"m{n}.py"
        path.write_text("def f(:\n" if n == 3 else f"x = {n}\n")
        files.append(("skipped", str(path), path.name, path.read_bytes()))
    runner = parallel.make_runner(Settings(), 2)
    try:
        tasks = [(0, "unparsed", files[:2]), (None, "unparsed", files[2:4]), (1, "unparsed", files[4:5]),
                 (None, "unparsed", files[5:])]
        sizes = []
        results = runner.run_mixed(tasks, sizes.append)
    finally:
        runner.close()
    assert sorted(sizes) == [1, 1, 2, 2]
    assert [[[row[5] for row in rows] for rows in result] for result in results] == [
        [[], []], [[], ["LL901"]], [[]], [[]]]


def test_a_cold_run_over_a_large_tree_starts_its_workers_before_reading():
    assert parallel.early_jobs(2, 100) == 1  # a small tree: decided after reading
    assert parallel.early_jobs(2, 5000) == 2
    assert parallel.early_jobs(1, 5000) == 1


def _children_of(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid`, from /proc."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid) and not fields.get("State", "").startswith("Z"):
            found.add(int(fields["Pid"]))
    return found


def test_a_warmed_up_pool_forks_its_workers_from_the_first_and_they_all_exit(tmp_path):
    # The first worker loads LibCST once and forks the others from itself: every worker
    # must answer its own tasks, and none may outlive the pool.
    files = []
    for n in range(3):
        path = tmp_path / f"m{n}.py"
        path.write_text("def f(:\n" if n == 1 else "x = 1\n")
        files.append(("skipped", str(path), path.name, path.read_bytes()))
    runner = parallel.make_runner(Settings(), 3, warm_up=True)
    try:
        first = runner._processes[0].pid
        assert len(runner._processes) == 1
        results = runner.run_mixed([(n, "unparsed", [files[n]]) for n in range(3)])
        forked = _children_of(first)
        assert len(forked) == 2
    finally:
        runner.close()
    assert [[[row[5] for row in rows] for rows in result] for result in results] == [[[]], [["LL901"]], [[]]]
    assert not runner._processes[0].is_alive()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in forked):
        assert time.monotonic() < deadline, "a forked worker outlived its pool"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def test_a_run_with_a_warmed_up_pool_matches_the_whole_project(monkeypatch):
    monkeypatch.setattr(parallel, "early_jobs", lambda jobs, files: 3)
    monkeypatch.setattr(parallel, "POOL_THRESHOLD", 1)
    whole = api.scan_paths([str(FIXTURES)], Settings()).report
    pooled = api.check_paths([str(FIXTURES)], Settings(), jobs=3)
    assert pooled.findings == whole.findings
    assert pooled.paths_scanned == whole.paths_scanned


@pytest.mark.parametrize("warm_up", [False, True])
@pytest.mark.parametrize("victim", [0, 1])
def test_a_worker_that_dies_is_an_error_not_a_hang(tmp_path, warm_up, victim):
    path = tmp_path / "m.py"
    path.write_text("x = 1\n")
    task = [("skipped", str(path), path.name, path.read_bytes())]
    runner = parallel.make_runner(Settings(), 2, warm_up=warm_up)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the parent waited for a dead worker"))
    signal.alarm(20)
    try:
        runner.run_mixed([(0, "unparsed", task), (1, "unparsed", task)])  # both are up
        if warm_up:
            pids = [runner._processes[0].pid, *_children_of(runner._processes[0].pid)]
        else:
            pids = [process.pid for process in runner._processes]
        os.kill(pids[victim], signal.SIGKILL)
        with pytest.raises(parallel.WorkerError, match=f"worker {victim} stopped"):
            runner.run_mixed([(victim, "unparsed", task)])
    finally:
        signal.alarm(0)
        runner.close()


def test_a_finished_group_frees_its_trees_without_the_cyclic_collector():
    # Workers pause the collector; the index's cycles are broken when a group is done.
    import gc

    import libcst

    def trees_alive() -> int:
        return sum(1 for o in gc.get_objects() if isinstance(o, libcst.Module) and o.body)

    gc.collect()
    before = trees_alive()
    gc.disable()
    try:
        report = api.check_paths([str(FIXTURES)], Settings(), jobs=1)
        assert report.findings
        assert trees_alive() == before
    finally:
        gc.enable()


def test_the_largest_groups_are_handed_out_first_in_chunks(tmp_path):
    # Any idle worker takes the next chunk, so the big group must start first: started last,
    # it left the other workers idle while it ran.
    sizes = {0: 3, 1: 50, 2: 1, 3: 20}
    kept, groups = [], []
    for gid, count in sizes.items():
        groups.append([])
        for n in range(count):
            groups[gid].append(len(kept))
            kept.append(incremental._File(tmp_path / f"g{gid}_{n}.py", f"g{gid}_{n}.py", b"x = 1\n", ""))
    chunks = incremental._group_chunks(list(sizes), groups, kept)
    assert [[gid for gid, _ in chunk] for chunk in chunks] == [[1], [3, 0, 2]]
    assert [len(members) for chunk in chunks for _, members in chunk] == [50, 20, 3, 1]


def test_an_edit_the_analysis_did_not_read_keeps_the_groups_result(tmp_path, monkeypatch):
    # run.py has no loss entry word: registered, never parsed. The finder asks whether any
    # file may call `fit(` (the trainer compiles its parameter); run.py's text says no.
    write(tmp_path, {
        "trainer.py": "import tensorflow as tf\n\ndef fit(model, loss_fn):\n"
                      "    model.compile(optimizer='adam', loss=loss_fn)\n",
        "metrics_lib.py": "import tensorflow as tf\n\ndef rms_loss(y_true, y_pred):\n"
                          "    return tf.sqrt(tf.reduce_mean(tf.square(y_true - y_pred)))\n",
        "run.py": "import tensorflow as tf\nfrom trainer import fit\nfrom metrics_lib import rms_loss\n\n"
                  "def main(model):\n    return model\n",
    })
    cache = str(tmp_path / "cache")
    cold = api.check_paths([str(tmp_path)], Settings(), cache_dir=cache, jobs=1)
    assert [f.function for f in cold.findings] == ["rms_loss"] and "signature" in cold.findings[0].message
    loads = CountingLoads(monkeypatch)
    # A comment: nothing the analysis read changed, so nothing is parsed and nothing changes.
    (tmp_path / "run.py").write_text("# entry point\n" + (tmp_path / "run.py").read_text())
    assert summary(api.check_paths([str(tmp_path)], Settings(), cache_dir=cache, jobs=1)) == summary(cold)
    assert loads.parsed == []
    # Now run.py calls `fit(`: the answer to a question the analysis asked changed, so the group
    # is analysed again, and rms_loss is compiled, no longer inferred.
    (tmp_path / "run.py").write_text("import tensorflow as tf\nfrom trainer import fit\n"
                                     "from metrics_lib import rms_loss\n\n"
                                     "def main(model):\n    fit(model, rms_loss)\n")
    edited = api.check_paths([str(tmp_path)], Settings(), cache_dir=cache, jobs=1)
    assert "run.py" in {Path(p).name for p in loads.parsed}
    assert [f.function for f in edited.findings] == ["rms_loss"] and "signature" not in edited.findings[0].message
    assert summary(edited) == summary(api.scan_paths([str(tmp_path)], Settings()).report)
    # An edit of a file it parsed is analysed again too.
    loads.parsed.clear()
    (tmp_path / "metrics_lib.py").write_text((tmp_path / "metrics_lib.py").read_text() + "# tuned\n")
    again = api.check_paths([str(tmp_path)], Settings(), cache_dir=cache, jobs=1)
    assert "metrics_lib.py" in {Path(p).name for p in loads.parsed}
    assert summary(again) == summary(api.scan_paths([str(tmp_path)], Settings()).report)
