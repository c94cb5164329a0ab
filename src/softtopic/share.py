"""Share the expensive outputs with DVC while Snakemake keeps the DAG.

`python -m softtopic.share push` (make share-results) versions, in `results.dvc`, the converted LMs
(resources/lm/) and everything the LM stage rests on (each corpus's prepared table, vocabulary and LM
outputs), commits data.dvc too, and pushes both to the default DVC remote.

`python -m softtopic.share pull` (make pull-results) runs `dvc pull` and then sets the modification
times of the pulled files in DAG order. DVC restores files with fresh, arbitrary mtimes and a fresh
clone has no .snakemake/ metadata, so Snakemake cannot compare checksums there (it compares a file
with the checksum recorded when the job that read it ran) and would rerun any job whose input looks
newer than its output. With the mtimes in DAG order, it schedules no corpus, vocabulary or LM job.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

STAGE_FILE = "results.dvc"
# What is versioned, in the order Snakemake makes it (each stage reads only earlier ones).
STAGES = ["data", "resources/lm", "results/*/corpus", "results/*/vocabulary", "results/*/lm"]
# The workflow's code: Snakemake reruns a job whose outputs are older than its script.
CODE = ["Snakefile", "rules", "scripts", "src", "envs", "config"]


def tracked_directories(root: Path) -> list[str]:
    """The existing directories that results.dvc versions (data/ has its own data.dvc)."""
    return [
        path.relative_to(root).as_posix()
        for pattern in STAGES[1:]
        for path in sorted(root.glob(pattern))
        if path.is_dir()
    ]


def write_stage_file(root: Path) -> list[str]:
    directories = tracked_directories(root)
    if not directories:
        raise SystemExit(
            f"nothing to share under {root}: no resources/lm/ or results/<corpus>/lm/ yet; run snakemake first"
        )
    (root / STAGE_FILE).write_text(yaml.safe_dump({"outs": [{"path": d} for d in directories]}, sort_keys=False))
    return directories


def newest_code_mtime(root: Path) -> float:
    """The modification time of the newest file of the workflow's code (0 if there is none)."""
    newest = 0.0
    for name in CODE:
        top = root / name
        for path in [top] if top.is_file() else top.rglob("*") if top.is_dir() else []:
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    return newest


def touch_in_dag_order(root: Path, now: float | None = None) -> int:
    """Give every file of each stage the same mtime, one second later than the stage before and all
    newer than the workflow's code (a fresh checkout dates it at clone time); returns the count."""
    start = max(time.time() if now is None else now, newest_code_mtime(root))
    count = 0
    for number, pattern in enumerate(STAGES):
        stamp = start + 1 + number
        for top in sorted(root.glob(pattern)):
            files = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]
            for path in files:
                os.utime(path, (stamp, stamp))
                count += 1
    return count


def dvc(root: Path, *args: str) -> None:
    command = [sys.executable, "-m", "dvc", *args]
    print("+ dvc " + " ".join(args), flush=True)
    if subprocess.run(command, cwd=root).returncode != 0:
        raise SystemExit(f"`dvc {' '.join(args)}` failed in {root} (see its message above)")


def push(root: Path, remote: str | None) -> None:
    directories = write_stage_file(root)
    print(f"{STAGE_FILE} versions: {', '.join(directories)}")
    dvc(root, "commit", "--force", "--quiet", STAGE_FILE, "data.dvc")
    dvc(root, "push", *(["--remote", remote] if remote else []), STAGE_FILE, "data.dvc")
    print(f"Now commit the pointers: git add {STAGE_FILE} data.dvc && git commit -m 'Share LM outputs'")


def pull(root: Path, remote: str | None) -> None:
    dvc(root, "pull", *(["--remote", remote] if remote else []))
    print(f"set the mtimes of {touch_in_dag_order(root)} pulled files in DAG order")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m softtopic.share", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["push", "pull"])
    parser.add_argument("--remote", help="a DVC remote name (default: the repository's default remote)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the project directory (default: .)")
    args = parser.parse_args(argv)
    (push if args.action == "push" else pull)(args.root.resolve(), args.remote)


if __name__ == "__main__":
    main()
