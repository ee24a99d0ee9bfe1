"""`losslint check` in groups of files: cached, and spread over processes.

The analysis is cross-file (a loss compiled in train.py may be defined in losses.py), but a
file only ever sees the files it names: name resolution (`Project.find_module`) looks up
module names built from the file's own imports and attribute names, and from its package.
So the files the prefilter keeps are split into *groups*: two files share a group when one
imports a name that may resolve to the other (losslint/imports.py: a superset of what
resolution can reach, read from the text; more edges only make groups bigger). Each group is
analysed as a project of its own and gives the same findings it gives inside the whole
project: everything the finder weighs, the evidence that a function is a metric, a helper or
a training step included, is resolved through bindings and imports, so it lies inside the
group. The result of a group is its findings and its losses (`Report.losses`).

The cache (losslint/cache.py) keeps that result per group, keyed by the group's files (path,
module name, content hash), the settings and the linter. A re-run over an unchanged tree
parses nothing; after an edit, only the edited file's group is parsed again, and not even
that when the analysis never read the edited file: with each result the cache keeps what the
analysis read ("reads": the files it parsed, and the questions resolution asked of the text
of the files it only registered, `Project.text_queries`). An edited file that was only
registered, is still one that would be (no loss entry word, parses), and answers those
questions as before cannot change the result (`_still_valid`). On the Keras sources, 357 of
the 885 files of the one large group are such files.

A group none of whose files contains a word the finder starts from (losslint/prefilter.py,
second stage) holds no loss: it is only checked with Python's parser, like the files the
first stage skips. In the other groups the same holds file by file: a file without such a
word is checked with Python's parser and registered by name, and parsed with LibCST only if
resolution leads into it (`Project.add_pending`): on tensorflow/examples 8 of the 151 such
files of active groups are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from losslint import cache as cachelib
from losslint.discovery import discover, exclude_groups, module_name_for
from losslint.ftypes import Finding, LossRecord, Report, Settings
from losslint.imports import FileImports, ModuleIndex
from losslint.loading import Unreadable, decode, parses_safely, read_sources
from losslint.prefilter import may_hold_loss, may_matter, text_matches
from losslint.selection import select_findings

SKIP_CHUNK = 200  # skipped files per task
GROUP_CHUNK = 40  # files to parse per task (several groups may share one)


@dataclass
class _File:
    path: Path
    display: str
    data: bytes
    hash: str
    name: str = ""
    is_package: bool = False


# --------------------------------------------------------------------------------------------
# Groups


def _text(file: _File) -> str:
    """The file's code as text (a notebook's code cells, as the analysis joins them); ""
    when it is unreadable (then it has no module for anything to reach, nor imports)."""
    if file.path.suffix == ".ipynb":
        from losslint.notebook import NotebookError, load_notebook

        try:
            return load_notebook(file.data.decode("utf-8-sig")).source
        except (NotebookError, UnicodeDecodeError):
            return ""

    try:
        return decode(file.data)
    except Unreadable:
        return ""


def groups_of(files: Sequence[_File]) -> list[list[int]]:
    """Indices of `files` in groups; each group and the list in the files' order."""
    parent = list(range(len(files)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    imports = [FileImports(_text(file), file.name, file.is_package) for file in files]
    index = ModuleIndex([(file.name, file.is_package, file.path) for file in files], [i.top for i in imports])
    for i in range(len(files)):
        for j in index.reachable(imports[i], i):
            a, b = root(i), root(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(files)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


# --------------------------------------------------------------------------------------------
# The run


def check(paths: Sequence[str], settings: Settings, *, cache_dir: str | None = None,
          jobs: int | None = None, progress: Callable[[int, int], None] | None = None) -> Report:
    """`api.check_paths` with a cache in `cache_dir` (None: no cache) and `jobs` processes
    (None or 0: one per CPU for large runs). `progress(done, total)` is told how many files
    are done."""
    from losslint import parallel

    sources, errors = discover(
        paths,
        respect_gitignore=settings.respect_gitignore,
        exclude_groups=exclude_groups(settings),
        force_exclude=settings.force_exclude,
    )
    store = cachelib.Cache(cache_dir) if cache_dir else None
    # A cold run over a large tree starts its workers before reading the files, so that they
    # load LibCST and the analysis meanwhile (a tenth of a second each, otherwise spent
    # after the reading).
    early = parallel.early_jobs(jobs, len(sources)) if store is None or store.is_empty() else 1
    runners = [parallel.make_runner(settings, early, warm_up=True)] if early > 1 else []

    def runner_for(wanted: int):
        if not runners:
            runners.append(parallel.make_runner(settings, parallel.choose_jobs(jobs, wanted)))
        return runners[0]

    try:
        return _check(sources, errors, settings, store, runner_for, progress)
    finally:
        for runner in runners:
            runner.close()


def _check(sources, errors, settings: Settings, store, runner_for, progress) -> Report:
    """The run, given the discovered files, the cache (or None) and `runner_for(n)`: the
    runner for about `n` files' worth of parsing."""
    report = Report(errors=list(errors))
    fingerprint = cachelib.fingerprint()
    settings_key = repr(settings)

    skipped: list[_File] = []
    kept: list[_File] = []
    for source, data in read_sources(sources, report):
        file = _File(source.path, source.display, data, cachelib.content_hash(data))
        (kept if may_matter(data, source.path) else skipped).append(file)
    total = len(skipped) + len(kept)
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(min(done[0], total), total)

    # -- the kept files, in groups ---------------------------------------------------------
    packages: dict[Path, list[str]] = {}
    for file in kept:
        if file.path.suffix == ".ipynb":
            file.name, file.is_package = file.path.stem, False
        else:
            file.name, file.is_package = _module_name(file.path, packages)
    layout_key = cachelib.digest([fingerprint, [(f.display, str(f.path), f.name, f.hash) for f in kept]])
    groups = store.get("components", layout_key) if store else None
    if not _valid_groups(groups, len(kept)):
        groups = groups_of(kept)
        if store:
            store.put("components", layout_key, groups)
    # Second stage of the prefilter: a group without a loss entry word is only checked.
    quiet = {gid for gid, group in enumerate(groups)
             if not any(may_hold_loss(kept[i].data, kept[i].path) for i in group)}
    group_keys = [cachelib.digest([fingerprint, settings_key,
                                   [(kept[i].display, str(kept[i].path), kept[i].name, kept[i].is_package,
                                     kept[i].hash) for i in group]]) for group in groups]
    # Files checked with Python's parser only: those the first stage skipped, those of quiet groups.
    unparsed = [("skipped", file) for file in skipped]
    unparsed += [("quiet", kept[i]) for gid in sorted(quiet) for i in groups[gid]]
    unparsed_rows: dict[int, list] = {}
    unchecked = []
    for n, (kind, file) in enumerate(unparsed):
        rows = store.get(kind, f"{file.hash}{file.path.suffix}") if store else None
        if _valid_rows(rows, with_path=False):
            unparsed_rows[n] = [[file.display, *row] for row in rows]
        else:
            unchecked.append(n)
    advance(len(unparsed) - len(unchecked))
    active = [g for g in range(len(groups)) if g not in quiet]
    # A group's files without their contents: the key of what its last analysis read.
    layout_keys = [cachelib.digest([fingerprint, settings_key,
                                    [(kept[i].display, str(kept[i].path), kept[i].name, kept[i].is_package)
                                     for i in group]]) for group in groups]
    results: dict[int, dict] = {}
    pending = []
    for gid in active:
        value = store.get("findings", group_keys[gid]) if store else None
        if not _valid_group_result(value) and store:
            files = [kept[i] for i in groups[gid]]
            value = _still_valid(store.get("reads", layout_keys[gid]), files)
            if _valid_group_result(value):  # an edit the analysis did not read: kept as is
                store.put("findings", group_keys[gid], value)
                store.put("reads", layout_keys[gid], _reads(value, files))
        if _valid_group_result(value):
            results[gid] = value
            advance(len(groups[gid]))
        else:
            pending.append(gid)

    runner = runner_for(sum(len(groups[g]) for g in pending) + len(unchecked) // 10)
    # One phase: the syntax checks and the groups to analyse, shared out to any idle worker.
    chunks = [unchecked[start:start + SKIP_CHUNK] for start in range(0, len(unchecked), SKIP_CHUNK)]
    check_tasks = [(None, "unparsed", [(unparsed[n][0], str(unparsed[n][1].path), unparsed[n][1].display,
                                        unparsed[n][1].data) for n in chunk]) for chunk in chunks]
    group_payloads = _group_chunks(pending, groups, kept)
    group_tasks = [(None, "findings", payload) for payload in group_payloads]
    outcome = runner.run_mixed(group_tasks + check_tasks, advance)
    for task_result in outcome[:len(group_tasks)]:
        for gid, value in task_result:
            results[gid] = value
            if store:
                store.put("findings", group_keys[gid], value)
                store.put("reads", layout_keys[gid], _reads(value, [kept[i] for i in groups[gid]]))
    for chunk, chunk_rows in zip(chunks, outcome[len(group_tasks):]):
        for n, rows in zip(chunk, chunk_rows):
            unparsed_rows[n] = rows
            if store:
                kind, file = unparsed[n]
                store.put(kind, f"{file.hash}{file.path.suffix}", [row[1:] for row in rows])

    findings: list[Finding] = []
    on_disk = {file.display: file.path for _, file in unparsed}
    unparsed_findings = [cachelib.finding_from_json(row) for n in sorted(unparsed_rows) for row in unparsed_rows[n]]
    findings += select_findings(unparsed_findings, None, settings, on_disk)
    losses: list[LossRecord] = []
    for gid in active:
        findings += [cachelib.finding_from_json(row) for row in results[gid]["findings"]]
        losses += [cachelib.loss_from_json(row) for row in results[gid]["losses"]]
    report.findings = sorted(findings, key=Finding.sort_key)
    report.losses = sorted(losses, key=LossRecord.sort_key)
    if store:
        store.save()
    return report


def _module_name(path: Path, packages: dict[Path, list[str]]) -> tuple[str, bool]:
    return module_name_for(path, packages) if path.exists() else (path.stem, False)


def _group_chunks(gids: Sequence[int], groups: list[list[int]], kept: list[_File]) -> list[list]:
    """The groups to analyse, in payloads of about GROUP_CHUNK files, the largest groups
    first: any idle worker takes the next payload, so a group of hundreds of files (a real
    repository often has one) starts at once and the others share out the rest."""
    size = {gid: sum(len(kept[i].data) for i in groups[gid]) for gid in gids}
    payloads: list[list] = []
    current: list = []
    files = 0
    for gid in sorted(gids, key=lambda g: -size[g]):
        members = [(str(kept[i].path), kept[i].display, kept[i].data) for i in groups[gid]]
        current.append((gid, members))
        files += len(members)
        if files >= GROUP_CHUNK:
            payloads.append(current)
            current, files = [], 0
    if current:
        payloads.append(current)
    return payloads


def _valid_groups(groups, count: int) -> bool:
    if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
        return False
    flat = [i for g in groups for i in g]
    return sorted(flat) == list(range(count)) if all(isinstance(i, int) for i in flat) else False


def _reads(result: dict, files: Sequence[_File]) -> dict:
    """What a group's analysis read, to reuse its result after edits it did not read: the
    hash of every file it parsed, and for each file it never parsed the questions its text
    answered yes to (`Project.text_queries`)."""
    unread = set(result["unread"])
    queries = [tuple(q) for q in result["queries"]]
    return {"result": result, "queries": [list(q) for q in queries],
            "parsed": {f.display: f.hash for f in files if f.display not in unread},
            "unread": {f.display: [f.hash, [n for n, q in enumerate(queries) if text_matches(q, f.data)]]
                       for f in files if f.display in unread}}


def _still_valid(reads, files: Sequence[_File]) -> dict | None:
    """The group's last result, if no file it parsed changed and every edited file it did not
    parse is still one it would not parse (registered only, and answering its text questions as
    before). Such an edit (a comment in a layer, a data module) cannot change what it reports."""
    try:
        parsed, unread = reads["parsed"], reads["unread"]
        queries = [tuple(q) for q in reads["queries"]]
        if len(parsed) + len(unread) != len(files):
            return None
        for file in files:
            if file.display in parsed:
                if parsed[file.display] != file.hash:
                    return None
                continue
            old_hash, old_matches = unread[file.display]
            if old_hash == file.hash:
                continue
            lazy = len(files) > 1 and file.path.suffix == ".py" and not may_hold_loss(file.data, file.path) \
                and parses_safely(file.data)
            if not lazy or [n for n, q in enumerate(queries) if text_matches(q, file.data)] != old_matches:
                return None
        return reads["result"]
    except (KeyError, TypeError, ValueError):
        return None


def _valid_group_result(value) -> bool:
    """A group's cached result: {"findings": rows, "losses": loss records}."""
    if not isinstance(value, dict) or not _valid_rows(value.get("findings")):
        return False
    losses = value.get("losses")
    if not isinstance(losses, list):
        return False
    try:
        for row in losses:
            cachelib.loss_from_json(row)
    except (TypeError, ValueError, KeyError):
        return False
    return True


def _valid_rows(rows, with_path: bool = True) -> bool:
    if not isinstance(rows, list):
        return False
    try:
        for row in rows:
            cachelib.finding_from_json(row if with_path else ["", *row])
    except (TypeError, ValueError):
        return False
    return True
