"""Benchmark: peak memory of joining a corpus's LM part files into logits.npy and hidden.npy, reading
each part whole (the gather before issue 17's last fix) against `softtopic.lm.gather_parts`, which reads
each part in blocks of rows (`softtopic.rows.npz_row_blocks`).

The part files are written as lm_outputs.py writes them (uncompressed .npz: documents, total_documents,
logits, hidden, meta), with bench/scale.py's shapes by default: 10^6 documents over 5 jobs, |V| = 2,000,
hidden width 64, each document in the part of a random job (as the batch plan scatters them). Each mode
then runs in a fresh process; the figure is that process's peak RSS (ru_maxrss). Needs about
2 x documents x (|V| + width) x 4 bytes of disk under --workdir (16.5 GB at the defaults):

    .venv/bin/python bench/gather_memory.py --documents 1000000 --workdir .scale/gather
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

def write_parts(workdir: Path, documents: int, parts: int, vocabulary: int, width: int) -> None:
    import numpy as np

    from softtopic.lm import ExtractionStats

    rng = np.random.default_rng(0)
    owners = rng.integers(0, parts, size=documents)
    for part in range(parts):
        rows = np.flatnonzero(owners == part)
        np.savez(workdir / f"{part + 1}-of-{parts}.npz", documents=rows, total_documents=documents,
                 logits=rng.standard_normal((len(rows), vocabulary), dtype=np.float32),
                 hidden=rng.standard_normal((len(rows), width), dtype=np.float32),
                 meta=json.dumps({"extraction": ExtractionStats().as_dict()}))


def whole_parts(paths, logits_path, hidden_path) -> None:
    """The gather before the fix: each part's logits and hidden states loaded whole, then written."""
    import numpy as np

    from softtopic.rows import release

    out = None
    for path in paths:
        with np.load(path) as part:
            rows, arrays = part["documents"], (part["logits"], part["hidden"])
            if out is None:
                out = [np.lib.format.open_memmap(p, mode="w+", dtype=np.float32,
                                                 shape=(int(part["total_documents"]), a.shape[1]))
                       for p, a in zip((logits_path, hidden_path), arrays)]
        for target, values in zip(out, arrays):
            target[rows] = values
            release(target)
        del arrays, values  # one part at a time, as the old code held it


def measure(mode: str, workdir: Path) -> dict:
    from softtopic.lm import gather_parts

    paths = sorted(workdir.glob("*-of-*.npz"))
    logits_path, hidden_path = workdir / f"logits-{mode}.npy", workdir / f"hidden-{mode}.npy"
    start = time.perf_counter()
    if mode == "whole-parts":
        whole_parts(paths, logits_path, hidden_path)
    else:
        gather_parts(paths, logits_path, hidden_path)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"mode": mode, "parts": len(paths), "part_gib": round(paths[0].stat().st_size / 2**30, 2),
            "seconds": round(seconds, 1), "peak_rss_mib": round(peak / 1024)}


def identical(workdir: Path, rows: int = 20_000) -> bool:
    """Whether both modes wrote the same logits.npy and hidden.npy, compared a block of rows at a time."""
    import numpy as np

    for key in ("logits", "hidden"):
        a, b = (np.load(workdir / f"{key}-{mode}.npy", mmap_mode="r") for mode in ("row-blocks", "whole-parts"))
        if a.shape != b.shape or any(not np.array_equal(a[i : i + rows], b[i : i + rows]) for i in range(0, len(a), rows)):
            return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=5)
    parser.add_argument("--vocabulary", type=int, default=2000)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--workdir", type=Path, required=True, help="a folder for the parts and outputs (emptied after)")
    parser.add_argument("--mode", choices=["whole-parts", "row-blocks", "write-parts"], help="(internal)")
    args = parser.parse_args()
    if args.mode == "write-parts":
        write_parts(args.workdir, args.documents, args.parts, args.vocabulary, args.width)
        return
    if args.mode:
        print(json.dumps(measure(args.mode, args.workdir)))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    child = [sys.executable, __file__, "--workdir", str(args.workdir)]
    try:  # each step in its own process: peak RSS is inherited across fork, so this one stays small
        subprocess.run(child + ["--mode", "write-parts", "--documents", str(args.documents), "--parts", str(args.parts),
                                "--vocabulary", str(args.vocabulary), "--width", str(args.width)], check=True)
        results = {}
        for mode in ("row-blocks", "whole-parts"):
            out = subprocess.run(child + ["--mode", mode], capture_output=True, text=True, check=True).stdout
            results[mode] = json.loads(out.strip().splitlines()[-1])
            print(json.dumps(results[mode]), flush=True)
        same = identical(args.workdir)
        ratio = results["whole-parts"]["peak_rss_mib"] / results["row-blocks"]["peak_rss_mib"]
        print(f"outputs identical: {same}; peak RSS whole parts / row blocks: {ratio:.1f}x")
    finally:
        for path in args.workdir.glob("*.np[yz]"):
            path.unlink()


if __name__ == "__main__":
    main()
