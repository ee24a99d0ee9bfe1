"""Where the expensive work of `losslint check` runs: in this process, or in worker processes.

The tasks (losslint/tasks.py says what each kind does; losslint/incremental.py plans them)
go to whichever worker is idle. A group is parsed and analysed in the worker that takes it,
so no LibCST tree ever crosses a process boundary. Measured on the
benchmark corpus (python 3.11, libcst 1.9): parsing a module costs 1.6-4.0 ms, pickling its
tree 1.1-2.5 ms and unpickling it 0.5-1.0 ms, 9-17 KB each; shipping trees back would have
cost the parent a quarter of the parse it saved, and the parent's share is what limits the
speed-up. Only file contents go to the workers and only findings and losses come back.

`jobs` 1 runs everything here; a pool is started only for runs with at least
`POOL_THRESHOLD` files to parse, and never from inside a worker (pre-commit runs one losslint
per batch of files, serially: .pre-commit-hooks.yaml sets `require_serial`).
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait

from losslint.ftypes import Settings

POOL_THRESHOLD = 150  # files to parse with LibCST; below this a pool costs more than it saves
_IN_WORKER = False


def auto_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def choose_jobs(jobs: int | None, files_to_parse: int) -> int:
    """How many processes to use: 1 below the threshold, inside a worker, or when asked."""
    if _IN_WORKER:
        return 1
    wanted = auto_jobs() if not jobs else jobs
    if wanted <= 1 or files_to_parse < POOL_THRESHOLD:
        return 1
    # at least POOL_THRESHOLD / 3 files for each worker
    return min(wanted, max(1, files_to_parse // max(1, POOL_THRESHOLD // 3)))


class LocalRunner:
    """Runs every task in this process."""

    workers = 1

    def __init__(self, settings: Settings) -> None:
        from losslint.tasks import WorkerState

        self.state = WorkerState(settings)

    def run(self, kind: str, tasks: Sequence[tuple[int, object]],
            done: Callable[[int], None] = lambda n: None) -> list:
        return self.run_mixed([(worker, kind, payload) for worker, payload in tasks], done)

    def run_mixed(self, tasks: Sequence[tuple[int | None, str, object]],
                  done: Callable[[int], None] = lambda n: None) -> list:
        self.ran_by = [0] * len(tasks)
        results = []
        for _, kind, payload in tasks:
            result, size = self.state.handle(kind, payload)
            results.append(result)
            done(size)
        return results

    def close(self) -> None:
        pass


def _worker_main(connection, settings: Settings, warm_up: bool = False, inherited=()) -> None:
    _become_worker(warm_up, inherited)
    _serve(connection, settings)


def _first_worker_main(connections, settings: Settings, inherited=()) -> None:
    """The first worker of a pool started to warm up: it loads LibCST and the analysis, then
    forks the other workers from itself, so that the import (0.1 s of CPU) is paid once
    rather than once per worker while the parent reads the files on the same cores."""
    _become_worker(True, inherited)
    mine, others = connections[0], connections[1:]
    for connection in others:
        pid = os.fork()
        if pid == 0:  # the new worker: keeps only its own end
            for other in connections:
                if other is not connection:
                    other.close()
            try:
                _serve(connection, settings)
            finally:
                os._exit(0)  # not this process's parent's exit handlers
        connection.close()
    _serve(mine, settings)


def _become_worker(warm_up: bool, inherited=()) -> None:
    """`inherited`: the parent's ends of the pipes, which a forked worker holds copies of:
    closed, so that a worker sees the end of its input if the parent dies."""
    global _IN_WORKER
    _IN_WORKER = True
    for connection in inherited:
        connection.close()
    import gc

    gc.disable()  # as in loading.paused_gc: the trees hold no cycles
    if warm_up:  # while the parent still reads the files: LibCST and the analysis load here
        import losslint.analysis  # noqa: F401
        import losslint.parsing  # noqa: F401
        import libcst  # noqa: F401


def _serve(connection, settings: Settings) -> None:
    from losslint.tasks import WorkerState

    state = WorkerState(settings)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, payload = message
        try:
            connection.send(("ok", state.handle(kind, payload)))
        except BaseException:  # reported to the parent, which raises it there
            connection.send(("error", traceback.format_exc()))


class WorkerError(RuntimeError):
    pass


class PoolRunner:
    """`jobs` worker processes; task `(worker, payload)` runs in that worker, in order."""

    def __init__(self, settings: Settings, jobs: int, warm_up: bool = False) -> None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        self.workers = jobs
        self._connections = []
        self._processes = []
        forked = method == "fork"  # a forked worker holds copies of the parent's pipe ends
        if warm_up and forked:
            pipes = [context.Pipe() for _ in range(jobs)]
            self._connections = [parent_end for parent_end, _ in pipes]
            self._start(context, _first_worker_main,
                        ([child_end for _, child_end in pipes], settings, self._connections))
            for _, child_end in pipes:
                child_end.close()
            return
        for _ in range(jobs):
            parent_end, child_end = context.Pipe()
            inherited = [*self._connections, parent_end] if forked else []
            self._start(context, _worker_main, (child_end, settings, warm_up, inherited))
            child_end.close()
            self._connections.append(parent_end)

    def _start(self, context, target, args) -> None:
        process = context.Process(target=target, args=args, daemon=True)
        process.start()
        self._processes.append(process)

    def run(self, kind: str, tasks: Sequence[tuple[int, object]],
            done: Callable[[int], None] = lambda n: None) -> list:
        return self.run_mixed([(worker, kind, payload) for worker, payload in tasks], done)

    def run_mixed(self, tasks: Sequence[tuple[int | None, str, object]],
                  done: Callable[[int], None] = lambda n: None) -> list:
        """Tasks `(worker, kind, payload)`: a worker runs its own tasks in order, then takes
        tasks for any worker (`None`) as it falls idle, so that a phase's uneven share of
        groups is evened out by the files that need only a syntax check. `ran_by` then
        tells which worker ran each task."""
        queues: list[list[int]] = [[] for _ in range(self.workers)]
        shared: list[int] = []
        for index, (worker, _, _) in enumerate(tasks):
            (shared if worker is None else queues[worker % self.workers]).append(index)
        shared.reverse()  # popped from the end, in order
        results: list = [None] * len(tasks)
        self.ran_by: list[int] = [0] * len(tasks)
        busy: dict[object, tuple[int, int]] = {}  # connection -> (worker, task index)

        def send_next(worker: int) -> None:
            if queues[worker] or shared:
                index = queues[worker].pop(0) if queues[worker] else shared.pop()
                connection = self._connections[worker]
                try:
                    connection.send(tasks[index][1:])
                except OSError:  # BrokenPipeError: the worker is gone
                    raise WorkerError(f"losslint worker {worker} stopped unexpectedly") from None
                busy[connection] = (worker, index)
                self.ran_by[index] = worker

        for worker in range(self.workers):
            send_next(worker)
        while busy:
            for connection in wait(list(busy)):
                worker, index = busy.pop(connection)
                try:
                    status, value = connection.recv()
                except (EOFError, OSError):
                    raise WorkerError(f"losslint worker {worker} stopped unexpectedly") from None
                if status != "ok":
                    raise WorkerError(f"in a losslint worker:\n{value}")
                results[index], size = value
                done(size)
                send_next(worker)
        return results

    def close(self) -> None:
        for connection in self._connections:
            try:
                connection.send(None)
                connection.close()
            except OSError:
                pass
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()


def make_runner(settings: Settings, jobs: int, warm_up: bool = False):
    """`warm_up`: the workers import what parsing needs as soon as they start (a pool started
    before the files are read, so that the import overlaps the reading)."""
    return PoolRunner(settings, jobs, warm_up) if jobs > 1 else LocalRunner(settings)


def early_jobs(jobs: int | None, files: int) -> int:
    """Workers worth starting before reading `files` files, for a run with no cache: as
    many as the files would justify if all needed LibCST, else 1 and the pool is decided
    after reading. A tree that turns out to be mostly Keras-free has then paid for a worker
    loading LibCST on another core (0.1 s of CPU); a tree with a large group of Keras files
    (real repositories: a package whose files import each other) starts parsing it as soon
    as the groups are known, instead of after the worker has loaded LibCST."""
    return choose_jobs(jobs, files) if files >= POOL_THRESHOLD else 1
