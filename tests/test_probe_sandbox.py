"""The probe's sandbox (losslint/probe/pool.py, runner.py) against hostile loss code.

Each hostile loss sits in a file next to a plain collapsing loss, which must still be probed
and confirmed: a loss that hangs, allocates without bound, forks, exits or kills its process
is `inconclusive` with the reason, and the run goes on. The sandbox limits time and memory
and runs in a throwaway folder; it does NOT stop file writes or network access by the loss
itself (see README, "Security model"): what it does about those is tested here as it is.
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
from pathlib import Path

import pytest

from losslint import probe
from losslint.api import scan_paths
from losslint.cli import main
from losslint.ftypes import Settings

PLAIN = """
import tensorflow as tf

def mae_batch(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred))
"""


def probe_all(path: Path, **options) -> dict:
    scan = scan_paths([str(path)], Settings())
    targets = probe.losses_named(scan.project, None)
    results = probe.probe_targets(scan.project, targets, probe.ProbeOptions(**options))
    return {t.function.qualname: results[t] for t in targets}


def write(folder: Path, code: str) -> Path:
    path = folder / "losses.py"
    path.write_text(textwrap.dedent(code) + PLAIN)
    return path


def test_hangs_exits_and_kills_are_inconclusive_and_the_run_goes_on(tmp_path):
    path = write(tmp_path, """
        import os, sys, time
        import tensorflow as tf

        def a_sleeps(y_true, y_pred):
            time.sleep(10_000)
            return y_pred

        def b_exits(y_true, y_pred):
            sys.exit(3)

        def c_hard_exit(y_true, y_pred):
            os._exit(7)

        def d_allocates(y_true, y_pred):
            import numpy as np
            hoard = []
            while True:  # address space, without touching it (the limit is RLIMIT_AS)
                hoard.append(np.empty(256 << 20, dtype=np.uint8))
    """)
    started = time.monotonic()
    results = probe_all(path, job_seconds=4, memory=4 << 30)
    elapsed = time.monotonic() - started
    assert results["a_sleeps"].verdict == "inconclusive"
    assert results["a_sleeps"].evidence == "the loss timed out after 4 s"
    assert results["b_exits"].verdict == "inconclusive"
    assert "SystemExit" in results["b_exits"].evidence
    assert results["c_hard_exit"].verdict == "inconclusive"
    assert "exit status 7" in results["c_hard_exit"].evidence
    assert results["d_allocates"].verdict == "inconclusive"
    assert "Unable to allocate" in results["d_allocates"].evidence  # numpy's MemoryError
    assert results["mae_batch"].verdict == "confirmed"
    assert elapsed < 120  # the sleeper was stopped at its limit, not waited for


def test_a_forked_child_cannot_answer_for_the_worker(tmp_path):
    path = write(tmp_path, """
        import os
        import tensorflow as tf

        def forks(y_true, y_pred):
            os.fork()  # parent and child both return from here
            return tf.reduce_sum(y_pred)
    """)
    results = probe_all(path, job_seconds=20)
    # One answer per job, in order: a child that lived on would read the next job from the
    # worker's stdin and write a second answer, shifting every verdict after it.
    assert results["forks"].verdict == "confirmed"
    assert results["mae_batch"].verdict == "confirmed"
    assert "batch axis is gone" in results["mae_batch"].evidence


def test_file_writes_what_the_sandbox_does_and_does_not_prevent(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep me")
    top_level_victim = tmp_path / "top_level.txt"
    path = write(project, f"""
        import os
        import tensorflow as tf

        open({str(top_level_victim)!r}, "w").write("module top level ran")  # never run

        def relative_write(y_true, y_pred):
            open("scratch.txt", "w").write("in the throwaway folder")
            return tf.reduce_sum(y_pred)

        def deletes(y_true, y_pred):
            os.remove({str(sentinel)!r})
            return tf.reduce_sum(y_pred)
    """)
    results = probe_all(path, job_seconds=20)
    assert results["mae_batch"].verdict == "confirmed"
    # Prevented: module top-level code never runs; relative paths land in the worker's
    # throwaway folder, which is removed, never in the scanned project or the caller's folder.
    assert not top_level_victim.exists()
    assert sorted(p.name for p in project.iterdir()) == ["losses.py"]
    assert not (Path.cwd() / "scratch.txt").exists()
    # Prevented too: a loss body that reaches outside the throwaway folder (an audit hook
    # refuses it; the finding says why).
    assert results["deletes"].verdict == "inconclusive"
    assert "sandbox blocks os.remove" in results["deletes"].evidence
    assert sentinel.read_text() == "keep me"


def test_network_access_is_blocked_and_the_scan_goes_on(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        path = write(tmp_path, f"""
            import socket
            import tensorflow as tf

            def phones_home(y_true, y_pred):
                socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
                return tf.reduce_sum(y_pred)
        """)
        results = probe_all(path, job_seconds=20)
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody called
    finally:
        listener.close()
    assert results["phones_home"].verdict == "inconclusive"
    assert "sandbox blocks socket.connect" in results["phones_home"].evidence
    assert results["mae_batch"].verdict == "confirmed"


def test_check_probe_reports_the_reason_in_the_finding(tmp_path, capsys):
    path = write(tmp_path, """
        import time
        import tensorflow as tf

        def sleeps(y_true, y_pred):
            time.sleep(10_000)
            return tf.reduce_mean(y_pred)
    """)
    status = main(["check", "--isolated", "--no-cache", "--probe", "--probe-timeout", "3",
                   "--format", "json", str(path)])
    findings = json.loads(capsys.readouterr().out)
    assert status == 1
    verdicts = {f["function"]: (f["probe"]["verdict"], f["probe"]["evidence"]) for f in findings}
    assert verdicts == {
        "sleeps": ("inconclusive", "the loss timed out after 3 s"),
        "mae_batch": ("confirmed", verdicts["mae_batch"][1]),
    }
