"""The ecosystem corpus: losslint on real repositories, scored against labels made by running them.

    python bench/ecosystem/run.py                   # every labelled repository, both modes
    python bench/ecosystem/run.py --mode repo       # whole-repository scans only
    python bench/ecosystem/run.py --tree DIR        # score the losslint found in DIR instead
    python bench/ecosystem/run.py owner/name ...    # some repositories only
    python bench/ecosystem/run.py --misses          # also list every miss and false report

Each `repos/<owner>__<name>.json` names a repository, the commit that was labelled and, per
function, a label found by running that function at two batch sizes (see README.md here). No
fetched code lives in this repository: the script unpacks each commit from the snapshot that
the search tool's `fetch` left in /work/.mirror into --root (default /work/ecosystem), outside
the repository, and scans it there.

Two modes, as the accuracy issue measures them:
  repo  the repository scanned from its root, as a user runs `losslint check .`;
  file  each labelled file scanned alone (a loss file handed to losslint by pre-commit, or
        pasted into a fresh project).

Scoring, per labelled function (the function Keras calls, by its __qualname__ and file), by
the verdict the inventory (`--show-losses`) gives that very loss:
  collapsing  found when its verdict is "collapses", else a miss;
  coupled     found when it is "coupled"; "collapses" is a false report;
  per-sample, not-a-loss
              "collapses" or "coupled" is a false report.
precision = right reports / labelled functions reported; recall = collapsing losses found.
A losslint without the inventory (an older checkout, --tree) is scored by its findings instead:
a finding names its loss (`function`, and `losses` when it has them). Losses or findings on
functions nobody labelled are listed apart: they are not scored, but read them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
LABELS = ("collapsing", "coupled", "per-sample", "not-a-loss")

# Scans every labelled file on its own inside one interpreter: starting Python and importing
# losslint per file would dominate the run.
_FILE_DRIVER = """
import json, sys
from losslint.api import check_paths
from losslint.ftypes import Settings
out = {}
for path in sys.argv[1:]:
    report = check_paths([path], Settings())
    records = getattr(report, "losses", None)
    if records is not None:  # a losslint with the inventory: each loss with its own verdict
        out[path] = {"losses": [{"path": r.place.path, "function": r.function, "verdict": r.verdict,
                                 "codes": [f.code for f in r.findings]} for r in records]}
    else:
        out[path] = {"findings": [{"path": f.path, "code": f.code, "function": f.function, "line": f.line}
                                  for f in report.findings]}
print(json.dumps(out))
"""


def load_labels(names: list[str]) -> list[dict]:
    entries = []
    for path in sorted((HERE / "repos").glob("*.json")):
        entry = json.loads(path.read_text())
        if names and entry["repo"] not in names:
            continue
        for function in entry["functions"]:
            if function["label"] not in LABELS:
                raise SystemExit(f"{path.name}: {function['function']}: unknown label {function['label']!r}")
        entries.append(entry)
    return entries


# What a scan reads: sources, notebooks and the configuration files discovery looks at.
_WANTED = (".py", ".ipynb", "pyproject.toml", "losslint.toml", ".gitignore")


def checkout(entry: dict, root: Path) -> Path | None:
    """The labelled commit's sources unpacked under root (made once), or None when no snapshot
    is here. Blob by blob, not `git archive`: snapshots lack files of 4 MiB and more, which
    only ever are data, and archive refuses a tree with a missing blob."""
    slug = entry["repo"].replace("/", "+")
    target = root / f"{slug}@{entry['commit'][:12]}"
    if (target / ".complete").exists():
        return target
    mirror = Path("/work/.mirror") / slug
    gitdirs = [p.parent for pattern in ("*/objects", "*/.git/objects") for p in mirror.glob(pattern)]
    if not gitdirs:
        return None
    git = ["git", f"--git-dir={gitdirs[0]}"]
    listing = subprocess.run([*git, "ls-tree", "-r", "-z", entry["commit"]], capture_output=True, check=False)
    if listing.returncode != 0:
        print(f"  {entry['repo']}: commit {entry['commit'][:12]} not in the snapshot", file=sys.stderr)
        return None
    blobs = []
    for row in listing.stdout.split(b"\0"):
        if not row:
            continue
        meta, _, path = row.partition(b"\t")
        mode, kind, sha = meta.split()
        name = path.decode("utf-8", "replace")
        if kind == b"blob" and mode != b"120000" and name.endswith(_WANTED):
            blobs.append((sha.decode(), name))
    batch = subprocess.run([*git, "cat-file", "--batch"], input="".join(f"{sha}\n" for sha, _ in blobs).encode(),
                           capture_output=True, check=False).stdout
    offset = 0
    for sha, name in blobs:
        end = batch.index(b"\n", offset)
        header = batch[offset:end].split()
        offset = end + 1
        if len(header) < 3 or header[1] != b"blob":  # "<sha> missing": a file the snapshot lacks
            continue
        size = int(header[2])
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(batch[offset:offset + size])
        offset += size + 1
    target.mkdir(parents=True, exist_ok=True)
    (target / ".complete").write_text("")
    return target


def _env(tree: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def scan_repo(directory: Path, tree: Path) -> dict:
    """{"losses": [...]} from the inventory (`--show-losses`), or {"findings": [...]} from a
    losslint that has none (an older checkout measured for comparison)."""
    base = [sys.executable, "-m", "losslint", "check", ".", "--format", "json", "--no-cache", "--exit-zero"]
    run = subprocess.run([*base, "--show-losses"], cwd=directory, env=_env(tree), capture_output=True, text=True)
    if run.returncode == 0:
        return {"losses": [{"path": r["path"], "function": r["function"], "verdict": r["verdict"],
                            "codes": [f["code"] for f in r["findings"]]} for r in json.loads(run.stdout)]}
    run = subprocess.run(base, cwd=directory, env=_env(tree), capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"losslint failed on {directory}:\n{run.stderr[-2000:]}")
    return {"findings": json.loads(run.stdout)}


def scan_files(directory: Path, paths: list[str], tree: Path) -> dict[str, list[dict]]:
    run = subprocess.run([sys.executable, "-c", _FILE_DRIVER, *paths], cwd=directory, env=_env(tree),
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"losslint failed on files of {directory}:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout)


def _norm(path: str) -> str:
    return os.path.normpath(path).replace(os.sep, "/")


_VERDICT_CODES = {"collapses": {"LL1"}, "coupled": {"LL2"}}


def judge(entry: dict, scan: dict) -> tuple[list[tuple], list[dict]]:
    """Score one scan: by the inventory's verdict of each loss when the scan has one, else by
    the findings."""
    if "losses" not in scan:
        return judge_findings(entry, scan["findings"])
    labels = entry["functions"]
    by_name = defaultdict(list)
    for label in labels:
        by_name[label["function"]].append(label)
    verdicts: dict[int, set[str]] = defaultdict(set)
    codes: dict[int, set[str]] = defaultdict(set)
    unclaimed = []
    for record in scan["losses"]:
        candidates = by_name.get(record["function"], [])
        same_file = [c for c in candidates if _norm(c["path"]) == _norm(record["path"])]
        owner = same_file[0] if same_file else (candidates[0] if len(candidates) == 1 else None)
        if owner is None:
            if record["verdict"] in _VERDICT_CODES:
                unclaimed.append({"path": record["path"], "line": "", "code": record["verdict"],
                                  "function": record["function"]})
            continue
        verdicts[id(owner)] |= _VERDICT_CODES.get(record["verdict"], set())
        codes[id(owner)] |= set(record["codes"])
    return [(label, _outcome(label["label"], verdicts[id(label)]), sorted(codes[id(label)]))
            for label in labels], unclaimed


def _outcome(kind: str, families: set[str]) -> str:
    if kind == "collapsing":
        return "found" if "LL1" in families else "missed"
    if kind == "coupled":
        return "false" if "LL1" in families else ("found" if "LL2" in families else "missed")
    return "false" if families else "quiet"


def judge_findings(entry: dict, findings: list[dict]) -> tuple[list[tuple], list[dict]]:
    """(label, function, outcome) per labelled function, and the findings no label claims.

    A finding names its loss by qualname, and its path is where the reduction is (a helper may
    sit in another file), so a finding belongs to the label with its qualname in its file, or
    to the only label with that qualname in the repository."""
    labels = entry["functions"]
    by_name = defaultdict(list)
    for label in labels:
        by_name[label["function"]].append(label)
    claimed: dict[int, list[dict]] = defaultdict(list)
    unclaimed = []
    for finding in findings:
        # every loss the reduction reaches (`losses`, when this losslint says it), else the one
        # it is reported under
        owners = []
        for name in finding.get("losses") or [finding["function"]]:
            candidates = by_name.get(name, [])
            same_file = [c for c in candidates if _norm(c["path"]) == _norm(finding["path"])]
            owner = same_file[0] if same_file else (candidates[0] if len(candidates) == 1 else None)
            if owner is not None:
                owners.append(owner)
        if not owners:
            unclaimed.append(finding)
        for owner in owners:
            claimed[id(owner)].append(finding)
    results = []
    for label in labels:
        families = {f["code"][:3] for f in claimed.get(id(label), [])} & {"LL1", "LL2"}
        results.append((label, _outcome(label["label"], families),
                        sorted({f["code"] for f in claimed.get(id(label), [])})))
    return results, [f for f in unclaimed if f["code"][:3] in ("LL1", "LL2")]


def table(rows: list[tuple[str, list[tuple]]]) -> None:
    print(f"  {'set':<24} {'losses':>6} {'coll.':>5} {'found':>5} {'coupl.':>6} {'found':>5} "
          f"{'reported':>8} {'false':>5} {'P':>5} {'R':>5}")
    for name, results in rows:
        count = Counter((label["label"], outcome) for label, outcome, _ in results)
        collapsing = count["collapsing", "found"] + count["collapsing", "missed"]
        coupled = sum(v for (k, _), v in count.items() if k == "coupled")
        right = count["collapsing", "found"] + count["coupled", "found"]
        false = sum(v for (_, o), v in count.items() if o == "false")
        reported = right + false
        precision = right / reported if reported else 1.0
        recall = count["collapsing", "found"] / collapsing if collapsing else 1.0
        print(f"  {name:<24} {len(results):>6} {collapsing:>5} {count['collapsing', 'found']:>5} {coupled:>6} "
              f"{count['coupled', 'found']:>5} {reported:>8} {false:>5} {precision:>5.2f} {recall:>5.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repos", nargs="*", help="owner/name of the repositories to score (default: all)")
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("LOSSLINT_ECOSYSTEM", "/work/ecosystem")),
                        help="where the labelled commits are unpacked (outside the repository)")
    parser.add_argument("--tree", type=Path, default=PROJECT, help="the losslint source tree to measure")
    parser.add_argument("--mode", choices=("repo", "file", "both"), default="both")
    parser.add_argument("--misses", action="store_true", help="list every miss, false report and unlabelled finding")
    parser.add_argument("--json", type=Path, help="also write every outcome to this file (to diff two runs)")
    args = parser.parse_args(argv)

    entries = load_labels(args.repos)
    modes = ("repo", "file") if args.mode == "both" else (args.mode,)
    outcomes: dict[str, list[tuple[dict, list[tuple]]]] = {mode: [] for mode in modes}
    unlabelled: dict[str, list[tuple[str, dict]]] = {mode: [] for mode in modes}
    missing = []
    for entry in entries:
        directory = checkout(entry, args.root)
        if directory is None:
            missing.append(entry["repo"])
            continue
        if "repo" in modes:
            results, stray = judge(entry, scan_repo(directory, args.tree))
            outcomes["repo"].append((entry, results))
            unlabelled["repo"] += [(entry["repo"], f) for f in stray]
        if "file" in modes:
            paths = sorted({label["path"] for label in entry["functions"]})
            per_file = scan_files(directory, paths, args.tree)
            results, stray = [], []
            for path in paths:
                sub = dict(entry, functions=[f for f in entry["functions"] if f["path"] == path])
                got, left = judge(sub, per_file.get(path, {"findings": []}))
                results += got
                stray += left
            outcomes["file"].append((entry, results))
            unlabelled["file"] += [(entry["repo"], f) for f in stray]

    if missing:
        print("no snapshot here (fetch them with the search tool): " + ", ".join(missing))
    record = {}
    for mode in modes:
        print(f"\n{mode} mode ({len(outcomes[mode])} repositories)")
        by_set = defaultdict(list)
        for entry, results in outcomes[mode]:
            by_set[entry["set"]] += results
        every = [r for results in by_set.values() for r in results]
        table(sorted(by_set.items()) + [("all", every)])
        record[mode] = [
            {"repo": entry["repo"], "path": label["path"], "function": label["function"], "label": label["label"],
             "outcome": outcome, "codes": codes}
            for entry, results in outcomes[mode] for label, outcome, codes in results]
        if args.misses:
            for entry, results in outcomes[mode]:
                for label, outcome, codes in results:
                    if outcome in ("missed", "false"):
                        print(f"  {outcome:<6} {label['label']:<10} {entry['repo']}: {label['path']}::"
                              f"{label['function']} {' '.join(codes)} -- {label['evidence'][:100]}")
            for repo, finding in unlabelled[mode]:
                print(f"  unlabelled {repo}: {finding['path']}:{finding['line']} {finding['code']} "
                      f"in {finding['function']}")
        print(f"  unlabelled findings: {len(unlabelled[mode])}")
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
