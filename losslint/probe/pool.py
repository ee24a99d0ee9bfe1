"""Running probe jobs in a sandboxed worker process (the parent side).

One worker per Keras mode (Keras 3, or legacy Keras 2 through tf_keras with
TF_USE_LEGACY_KERAS=1), started on first use, so TensorFlow is loaded once per mode and run.
Each job has a time limit; a job that runs over it, or a worker that crashes, is killed and
the job is `inconclusive`, and a fresh worker takes the remaining jobs. The whole run has a
time limit too: once it is spent, the jobs left are `inconclusive` without running.

The worker runs with a limit on its address space (RLIMIT_AS), in a fresh temporary folder,
with TF_CPP_MIN_LOG_LEVEL=3, CUDA_VISIBLE_DEVICES="" and KERAS_HOME in that folder, and with
the folders of the scanned code out of its `sys.path`.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import losslint

# Measured: TensorFlow 2.21 imports with 1.5 GB of address space under Keras 3 and needs 2 GB
# with tf_keras; 4 GB leaves room for the probe's small tensors.
DEFAULT_MEMORY = 4 << 30
DEFAULT_JOB_SECONDS = 20.0
DEFAULT_RUN_SECONDS = 600.0
STARTUP_SECONDS = 120.0


@dataclass
class PoolStats:
    startups: list[float] = field(default_factory=list)  # seconds from spawn to ready, per worker
    jobs: list[float] = field(default_factory=list)  # seconds per job, as seen by the parent
    versions: dict[str, str] = field(default_factory=dict)


class WorkerFailed(Exception):
    pass


class _Worker:
    def __init__(self, legacy: bool, roots: list[str], memory: int) -> None:
        self.legacy = legacy
        self.folder = tempfile.mkdtemp(prefix="losslint-probe-")
        self.stderr_path = os.path.join(self.folder, "stderr.txt")
        env = dict(os.environ)
        for key in ("PYTHONSTARTUP", "PYTHONINSPECT"):
            env.pop(key, None)
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(losslint.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in [package_parent, env.get("PYTHONPATH", "")] if p)
        env.update({
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "CUDA_VISIBLE_DEVICES": "",
            "TF_ENABLE_ONEDNN_OPTS": "0",
            "KERAS_HOME": os.path.join(self.folder, "keras"),
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        })
        if legacy:
            env["TF_USE_LEGACY_KERAS"] = "1"
        else:
            env.pop("TF_USE_LEGACY_KERAS", None)
        started = time.perf_counter()
        self.stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "losslint.probe.runner", str(memory), *roots],
            cwd=self.folder, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, start_new_session=True,
        )
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.buffer = b""
        line = self._read_line(STARTUP_SECONDS)
        if line is None:
            self.close()
            raise WorkerFailed(f"the probe worker did not start: {self._last_error()}")
        hello = json.loads(line)
        if not hello.get("ready"):
            self.close()
            raise WorkerFailed(f"the probe worker could not load TensorFlow: {hello.get('error')}")
        self.hello = hello
        self.startup = time.perf_counter() - started

    def _read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self.selector.select(left):
                return None
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                return None  # the worker died
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    def _last_error(self) -> str:
        self.stderr.flush()
        try:
            with open(self.stderr_path, "rb") as handle:
                lines = [line for line in handle.read().decode("utf-8", "replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        code = self.process.poll()
        status = ""
        if code is not None:
            status = f"exit status {code}" if code >= 0 else f"killed by signal {-code}"
        useful = [line for line in lines if "Error" in line or "error" in line] or lines
        tail = useful[-1].strip() if useful else ""
        return "; ".join(p for p in (status, tail[:300]) if p) or "no output"

    def run(self, job: dict, timeout: float) -> dict:
        try:
            self.process.stdin.write((json.dumps(job) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerFailed(f"the probe worker died: {self._last_error()}") from None
        line = self._read_line(timeout)
        if line is None:
            try:  # its output closed as it exits: give it a moment to be reaped
                self.process.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                raise WorkerFailed(f"timed out after {timeout:g} s") from None
            raise WorkerFailed(f"the probe worker crashed: {self._last_error()}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()
        self.selector.close()
        for stream in (self.process.stdin, self.process.stdout, self.stderr):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


class Pool:
    """Runs jobs in workers; `run(job, legacy)` never raises for anything a job does."""

    def __init__(self, roots: list[str], *, job_seconds: float = DEFAULT_JOB_SECONDS,
                 run_seconds: float = DEFAULT_RUN_SECONDS, memory: int = DEFAULT_MEMORY) -> None:
        self.roots = roots
        self.job_seconds = job_seconds
        self.memory = memory
        self.deadline = time.monotonic() + run_seconds
        self.run_seconds = run_seconds
        self.workers: dict[bool, _Worker] = {}
        self.broken: dict[bool, str] = {}
        self.stats = PoolStats()

    def run(self, job: dict, legacy: bool) -> dict:
        left = self.deadline - time.monotonic()
        if left <= 0:
            return {"verdict": "inconclusive",
                    "evidence": f"not probed: the probe run's time limit ({self.run_seconds:g} s) was reached"}
        if legacy in self.broken:
            return {"verdict": "inconclusive", "evidence": self.broken[legacy]}
        worker = self.workers.get(legacy)
        if worker is None:
            # One mode at a time: a run that switches mode does not keep two TensorFlows.
            for other in list(self.workers):
                self.workers.pop(other).close()
            try:
                worker = _Worker(legacy, self.roots, self.memory)
            except WorkerFailed as exc:
                self.broken[legacy] = str(exc)
                return {"verdict": "inconclusive", "evidence": str(exc)}
            self.workers[legacy] = worker
            self.stats.startups.append(worker.startup)
            self.stats.versions["legacy" if legacy else "keras3"] = (
                f"tensorflow {worker.hello.get('tensorflow')}, keras {worker.hello.get('keras')}")
        started = time.perf_counter()
        timeout = min(self.job_seconds, max(left, 0.1))
        try:
            result = worker.run(job, timeout)
        except WorkerFailed as exc:
            self.workers.pop(legacy).close()
            reason = str(exc)
            if reason.startswith("timed out") and timeout < self.job_seconds:
                reason = f"stopped: the probe run's time limit ({self.run_seconds:g} s) was reached"
            result = {"verdict": "inconclusive", "evidence": f"the loss {reason}" if reason.startswith(
                "timed out") else reason}
        self.stats.jobs.append(time.perf_counter() - started)
        return result

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
