"""Benchmarks: `python bench/run.py [PATH ...] [--files N] [--big-files M] [--repeat K]`.

Builds a corpus of N generated files (70% Keras-free utility modules, 20% Keras model
definitions, 10% training scripts with custom losses: more losses than most monorepos hold)
and measures, each time against a baseline measured in the same run because these machines
are noisy (Python's own `ast` parse of every file is printed too, for scale):

  1. a cold `losslint check --no-cache CORPUS` vs parsing every file of the corpus once with
     LibCST in one process (the naive cost of a LibCST linter), with the default jobs and
     with `--jobs 1`;
  2. a warm re-run over the unchanged corpus with the cache vs the cold run, and a re-run
     after editing one file;
  3. a single-file cold `losslint check --no-cache one_file.py` vs `python -c pass` and vs
     `flake8 one_file.py` (when flake8 is installed);
  4. the peak memory (RSS) of a cold scan of an M-file corpus.

Each command runs in a fresh process, K times; the median is reported. Extra PATHs (the Keras
sources: `pip download keras==3.15.1 --no-deps` unpacked outside this repository, or a fetched
repository) are measured like the corpus, with ruff's uncached run (when ruff is installed)
and the peak memory as baselines too, the one-file edit going to a file with no loss (undone
afterwards). The machine (`nproc`, CPU model) is printed
first: ratios only compare runs on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KERAS_FREE = '''"""Data utilities {n}."""
import json
import os
from dataclasses import dataclass

import numpy as np


@dataclass
class Record{n}:
    name: str
    values: list


def load_records_{n}(path):
    with open(path) as handle:
        return [Record{n}(**row) for row in json.load(handle)]


def normalise_{n}(values, eps=1e-7):
    values = np.asarray(values, dtype=np.float32)
    return (values - values.mean()) / (values.std() + eps)


def batches_{n}(items, size=32):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def summarise_{n}(records):
    totals = {{}}
    for record in records:
        totals[record.name] = totals.get(record.name, 0.0) + float(np.sum(record.values))
    return {{key: round(value, 3) for key, value in sorted(totals.items())}}


if __name__ == "__main__":
    print(summarise_{n}(load_records_{n}(os.environ.get("DATA", "data.json"))))
'''

MODEL = '''"""Model definition {n}."""
import tensorflow as tf
from tensorflow import keras


def conv_block_{n}(x, filters):
    x = keras.layers.Conv2D(filters, 3, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


def build_model_{n}(input_shape=(64, 64, 3), classes=10):
    inputs = keras.Input(shape=input_shape)
    x = conv_block_{n}(inputs, 32)
    x = keras.layers.MaxPooling2D()(x)
    x = conv_block_{n}(x, 64)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="model_{n}")
'''

TRAINING = '''"""Training script {n}."""
import numpy as np
import tensorflow as tf
from tensorflow.keras import backend as K


def dice_coef_{n}(y_true, y_pred, smooth=1.0):
    y_true_f = K.flatten(y_true)
    y_pred_f = K.flatten(y_pred)
    intersection = K.sum(y_true_f * y_pred_f)
    return (2.0 * intersection + smooth) / (K.sum(y_true_f) + K.sum(y_pred_f) + smooth)


def dice_loss_{n}(y_true, y_pred):
    return 1.0 - dice_coef_{n}(y_true, y_pred)


def focal_loss_{n}(gamma=2.0):
    def focal(y_true, y_pred):
        y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
        weight = tf.pow(1.0 - y_pred, gamma) * y_true
        return tf.reduce_mean(-weight * tf.math.log(y_pred), axis=-1)
    return focal


def main():
    x = np.random.rand(32, 64, 64, 1).astype("float32")
    model = tf.keras.Sequential([tf.keras.layers.Conv2D(1, 1, activation="sigmoid")])
    model.compile(optimizer="adam", loss=dice_loss_{n}, metrics=[dice_coef_{n}])
    model.fit(x, x, epochs=1)
    model.compile(optimizer="adam", loss=focal_loss_{n}(3.0))


if __name__ == "__main__":
    main()
'''


def build_corpus(root: Path, files: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    for n in range(files):
        kind = rng.random()
        package = root / f"pkg{n // 200}"
        package.mkdir(parents=True, exist_ok=True)
        if kind < 0.7:
            text = KERAS_FREE.format(n=n)
        elif kind < 0.9:
            text = MODEL.format(n=n)
        else:
            text = TRAINING.format(n=n)
        (package / f"module_{n}.py").write_text(text)
    return root


BASELINE_PARSE = """
import sys
from pathlib import Path
import libcst
for path in sorted(Path(sys.argv[1]).rglob("*.py")):
    try:
        libcst.parse_module(path.read_bytes())
    except Exception:
        pass
"""


BASELINE_AST = """
import ast
import sys
from pathlib import Path
for path in sorted(Path(sys.argv[1]).rglob("*.py")):
    try:
        compile(path.read_bytes(), str(path), "exec", ast.PyCF_ONLY_AST)
    except Exception:
        pass
"""


def timed(command: list[str], repeat: int, cwd: Path | None = None) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory_mb(command: list[str]) -> float:
    """Peak RSS of one run, measured by a wrapper process so earlier children do not count."""
    wrapper = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux


def report_scan(label: str, path: Path, repeat: int, real: bool = False) -> None:
    """`real`: a tree of real code, where the edit goes to a file that holds no loss (a
    layer, a data module: the common edit) and is undone afterwards, and ruff (if installed)
    and the peak memory are measured too."""
    losslint = [sys.executable, "-m", "losslint", "check", "--exit-zero", "-q"]
    baseline = [sys.executable, "-c", BASELINE_PARSE, str(path)]
    files = sum(1 for _ in path.rglob("*.py"))
    base = timed(baseline, repeat)
    with_ast = timed([sys.executable, "-c", BASELINE_AST, str(path)], repeat)
    ruff = shutil.which("ruff") if real else None
    ruff_time = timed([ruff, "check", "--no-cache", "--exit-zero", "-q", str(path)], repeat) if ruff else None
    cold = timed([*losslint, "--no-cache", str(path)], repeat)
    serial = timed([*losslint, "--no-cache", "--jobs", "1", str(path)], repeat)
    cache = Path(tempfile.mkdtemp(prefix="losslint-cache-"))
    target = _edit_target(path, real)
    original = target.read_bytes()
    try:
        with_cache = [*losslint, "--cache-dir", str(cache), str(path)]
        subprocess.run(with_cache, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        warm = timed(with_cache, repeat)
        times = []
        for n in range(repeat):  # a different edit each time, so that every run has one change
            target.write_bytes(original + f"# edit {n}\n".encode())
            start = time.perf_counter()
            subprocess.run(with_cache, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        after_edit = statistics.median(times)
    finally:
        target.write_bytes(original)
        shutil.rmtree(cache, ignore_errors=True)
    edited = target.relative_to(path)
    print(f"[{label}] {files} .py files")
    print(f"  parse every file with LibCST (baseline): {base:7.2f} s")
    print(f"  parse every file with Python's ast:      {with_ast:7.2f} s   LibCST/ast {base / with_ast:5.1f}")
    if ruff_time is not None:
        print(f"  ruff check, no cache:                    {ruff_time:7.2f} s")
    versus = f"   ruff x{cold / ruff_time:5.1f}" if ruff_time else ""
    print(f"  losslint check, cold, default jobs:      {cold:7.2f} s   ratio {cold / base:5.2f}  (target <= 0.15){versus}")
    print(f"  losslint check, cold, --jobs 1:          {serial:7.2f} s   ratio {serial / base:5.2f}")
    versus = f"   ruff x{warm / ruff_time:5.1f} (target <= 2)" if ruff_time else ""
    print(f"  losslint check, warm cache, no change:   {warm:7.2f} s   warm/cold {warm / cold:5.2f}{versus}")
    versus = f"   ruff x{after_edit / ruff_time:5.1f} (target <= 4)" if ruff_time else ""
    print(f"  losslint check, warm, {edited} edited: {after_edit:5.2f} s   ratio to cold {after_edit / cold:5.2f}{versus}")
    if real:
        pooled = peak_memory_mb([*losslint, "--no-cache", str(path)])
        single = peak_memory_mb([*losslint, "--no-cache", "--jobs", "1", str(path)])
        print(f"  peak RSS of the largest process, cold: {pooled:6.1f} MB default jobs, {single:6.1f} MB --jobs 1"
              "  (target <= 200 MB)")


def _edit_target(path: Path, real: bool) -> Path:
    """The file a one-file edit goes to: a training script of the generated corpus; in a real
    tree, the first file (in path order) that mentions no loss, as most edits are."""
    files = sorted(path.rglob("*.py"))
    if real:
        return next((f for f in files if b"loss" not in f.read_bytes() and f.stat().st_size > 2000), files[0])
    return next((f for f in files if "Training script" in f.read_text()), files[0])


def report_memory(files: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="losslint-bench-big-"))
    try:
        corpus = build_corpus(workdir / "corpus", files)
        command = [sys.executable, "-m", "losslint", "check", "--exit-zero", "-q", "--no-cache"]
        pooled = peak_memory_mb([*command, str(corpus)])
        serial = peak_memory_mb([*command, "--jobs", "1", str(corpus)])
        print(f"\n[memory] {files} generated .py files, cold scan (largest single process)")
        print(f"  peak RSS, default jobs: {pooled:7.1f} MB   (target < 300 MB)")
        print(f"  peak RSS, --jobs 1:     {serial:7.1f} MB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    return f"nproc {nproc}, {model}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="real trees to measure too")
    parser.add_argument("--files", type=int, default=2000, help="size of the generated corpus")
    parser.add_argument("--big-files", type=int, default=5000, help="size of the memory corpus")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # Measure an installation as users have it: with compiled bytecode for losslint and
    # LibCST (some sandboxes set PYTHONDONTWRITEBYTECODE, which makes every import compile
    # its sources again, 40 ms of LibCST alone).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", "import libcst, flake8.main.cli, losslint.cli, losslint.analysis, "
                    "losslint.incremental"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    workdir = Path(tempfile.mkdtemp(prefix="losslint-bench-"))
    try:
        corpus = build_corpus(workdir / "corpus", args.files)
        print(f"{machine()}; python {sys.version.split()[0]}, {args.repeat} runs each, median wall time\n")
        report_scan("generated corpus", corpus, args.repeat)
        for path in args.paths:
            report_scan(str(path), path, args.repeat, real=True)

        one = next(corpus.rglob("module_*.py"))
        for candidate in sorted(corpus.rglob("module_*.py")):
            if "Training script" in candidate.read_text():
                one = candidate
                break
        python = timed([sys.executable, "-c", "pass"], args.repeat * 2)
        single = timed([sys.executable, "-m", "losslint", "check", "--exit-zero", "-q", "--no-cache", str(one)],
                       args.repeat * 2)
        print(f"\n[single file] {one.name}")
        print(f"  python -c pass:          {python:6.3f} s")
        print(f"  losslint check one file: {single:6.3f} s   ratio to python {single / python:5.1f}")
        if shutil.which("flake8"):
            flake8 = timed(["flake8", str(one)], args.repeat * 2)
            print(f"  flake8 one file:         {flake8:6.3f} s   losslint/flake8 {single / flake8:5.2f}  (target <= 1)")
        else:
            print("  flake8 not installed: no flake8 comparison")
        report_memory(args.big_files)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
