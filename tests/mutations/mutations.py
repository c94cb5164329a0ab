"""Does the test suite catch a broken core? Deliberate one-line breaks, each tried on a copy of the repo.

Each break names a file, the exact text to replace and its replacement, and the tests that should
catch it (files, or node ids where only some tests of a file matter; workflow-marked tests run only
for a break that clears its `markers`). For every break the script writes it into a temporary copy of
the repository (tracked and untracked-but-not-ignored files; the copy's `src/` comes first on
PYTHONPATH), runs ``pytest -x -q`` on those tests, and records whether they failed (caught) or passed
(missed); rows are printed as they are known.
A break whose text is not found, or found more than once, stops the script before anything runs, so
the list cannot rot silently (`tests/test_mutations.py` checks that in the suite). Running the breaks is
not part of CI: it takes tens of minutes.

    .venv/bin/python tests/mutations/mutations.py           # every break, then the table
    .venv/bin/python tests/mutations/mutations.py --check   # only check that every break still applies
    .venv/bin/python tests/mutations/mutations.py --only tau rbo   # the breaks whose name contains a word
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Test files per behaviour: the fast unit tests first, so that `-x` stops before the slow fixtures
# (SmolLM2's conversion, Gemma's tokenizer) are built whenever the fast ones catch the break.
OBJECTIVE = ("tests/test_objective.py", "tests/test_softlabel.py", "tests/test_models.py")
TAU = ("tests/test_train_script.py", "tests/test_objective.py", "tests/test_models.py")
LM = ("tests/test_extract_rows.py", "tests/test_lm.py")
PROJECTION = ("tests/test_projection.py", "tests/test_prompting.py")
BASELINES = ("tests/test_baselines.py", "tests/test_models.py")
METRICS = ("tests/test_metric_values.py", "tests/test_metrics.py")
# A test file that does not exist is left out (so a list can name tests that a branch adds later).
CORPUS = ("tests/test_vocabulary.py", "tests/test_corpus.py", "tests/test_bad_input.py")
CONFIG = ("tests/test_config.py", "tests/test_bad_input.py")
MODELS = ("tests/test_models.py", "tests/test_models_extra.py")
LM_JOB = ("tests/test_extract_rows.py",)  # scripts/lm_outputs.py's main, with a tiny LM


@dataclass(frozen=True)
class Break:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]  # files, or pytest node ids (file::test)
    markers: str = "not workflow"  # pytest -m; "" runs workflow-marked tests too (name them by node id)


PRODLDA = "src/softtopic/models/prodlda.py"
NEURAL = "src/softtopic/models/neural.py"
BREAKS = [
    # ---------------------------------------------------------------- the DSL objective
    Break("KL(target||prediction) reversed", NEURAL,
          "return (target * (target.log() - prediction.clamp(min=EPS).log())).sum(-1)",
          "return (prediction * (prediction.clamp(min=EPS).log() - target.log())).sum(-1)", OBJECTIVE),
    Break("prior-KL sign of log prior variance", NEURAL,
          "- 1.0 + torch.log(prior_var) - logvar", "- 1.0 - torch.log(prior_var) - logvar", OBJECTIVE),
    Break("prior-KL sign of log posterior variance", NEURAL,
          "- 1.0 + torch.log(prior_var) - logvar", "- 1.0 + torch.log(prior_var) + logvar", OBJECTIVE),
    Break("prior-KL without the posterior variance", NEURAL,
          "(torch.exp(logvar) + (mu - prior_mean) ** 2) / prior_var", "((mu - prior_mean) ** 2) / prior_var",
          OBJECTIVE),
    Break("prior-KL divides by the prior variance twice", NEURAL,
          "(torch.exp(logvar) + (mu - prior_mean) ** 2) / prior_var -",
          "(torch.exp(logvar) + (mu - prior_mean) ** 2) / prior_var**2 -", OBJECTIVE),
    Break("prior-KL sign of the prior mean", NEURAL, "(mu - prior_mean) ** 2", "(mu + prior_mean) ** 2", OBJECTIVE),
    Break("prior variance 1 instead of 1 - 1/K", PRODLDA,
          "torch.full((num_topics,), 1.0 - 1.0 / num_topics)", "torch.full((num_topics,), 1.0)", OBJECTIVE),
    Break("learned prior never a Parameter", PRODLDA, "        if learn_priors:\n", "        if False:\n", OBJECTIVE),
    Break("learn_priors switch never reaches the network", PRODLDA,
          "self.theta_samples, self.learn_priors, **settings)",
          "self.theta_samples, True, **settings)", OBJECTIVE),
    Break("loss subtracts the prior KL", NEURAL,
          "return (penalty + self.reconstruction(batch_target, prediction)).sum()",
          "return (self.reconstruction(batch_target, prediction) - penalty).sum()", OBJECTIVE),
    Break("loss drops the prior KL", NEURAL,
          "return (penalty + self.reconstruction(batch_target, prediction)).sum()",
          "return self.reconstruction(batch_target, prediction).sum()", OBJECTIVE),
    Break("decoder not tempered by tau", PRODLDA,
          "torch.softmax(self.beta_norm(theta @ self.beta) / tau, dim=-1)",
          "torch.softmax(self.beta_norm(theta @ self.beta), dim=-1)", OBJECTIVE),
    Break("decoder without batch norm", PRODLDA,
          "torch.softmax(self.beta_norm(theta @ self.beta) / tau, dim=-1)",
          "torch.softmax((theta @ self.beta) / tau, dim=-1)", OBJECTIVE),
    Break("fit calls the decoder without tau", NEURAL,
          "self.network(batch_x, self.decoder_tau)", "self.network(batch_x)", OBJECTIVE),
    Break("posterior sample uses the variance as sd", NEURAL,
          "torch.randn_like(mu) * torch.exp(0.5 * logvar)", "torch.randn_like(mu) * torch.exp(logvar)", OBJECTIVE),
    Break("ProdLDA cross-entropy sign", NEURAL,
          "return -(target * prediction.clamp(min=EPS).log()).sum(-1)",
          "return (target * prediction.clamp(min=EPS).log()).sum(-1)", OBJECTIVE + BASELINES),
    Break("CE ablation runs KL", NEURAL,
          'term = kl_reconstruction if self.loss == "kl" else cross_entropy_reconstruction',
          "term = kl_reconstruction", OBJECTIVE),
    Break("kl_weight dropped", NEURAL,
          "return self.kl_weight * term(target, prediction)", "return term(target, prediction)", OBJECTIVE),
    Break("target_top_k ignored by DSL", NEURAL,
          "soft_label(scores, self.tau, top_k=self.target_top_k, top_p=self.target_top_p)",
          "soft_label(scores, self.tau, top_p=self.target_top_p)", OBJECTIVE),
    Break("target tau ignored by DSL", NEURAL,
          "soft_label(scores, self.tau, top_k=self.target_top_k, top_p=self.target_top_p)",
          "soft_label(scores, 3.0, top_k=self.target_top_k, top_p=self.target_top_p)", OBJECTIVE),
    Break("DSL keeps only the documents with a BoW", NEURAL,
          "return np.arange(data.bow.shape[0])  # DSL keeps every document",
          "return data.nonempty_documents()  # DSL keeps every document", MODELS),
    Break("top-k mask keeps the rest at logit 0", "src/softtopic/softlabel.py",
          'y.masked_fill(y < threshold, float("-inf"))', "y.masked_fill(y < threshold, 0.0)", OBJECTIVE),
    Break("soft label not divided by tau", "src/softtopic/softlabel.py",
          "target = torch.softmax(y / tau, dim=-1)", "target = torch.softmax(y, dim=-1)", OBJECTIVE),
    # ---------------------------------------------------------------- tau end to end
    Break("tau of the path never reaches the model", "scripts/train_model.py",
          'hyperparameters["tau"] = identity["tau"]', "pass", TAU),
    Break("every tau trained at 3", "scripts/train_model.py",
          'hyperparameters["tau"] = identity["tau"]', 'hyperparameters["tau"] = 3.0', TAU),
    Break("run identity drops the tau", "src/softtopic/workflow.py",
          '"tau": None if tau is None else float(tau),', '"tau": None,', TAU),
    # ---------------------------------------------------------------- theta and the trainer
    Break("theta inferred in train mode", NEURAL, "self.eval()\n        noise = None", "self.train()\n        noise = None",
          BASELINES),
    Break("theta from one posterior draw", NEURAL,
          "torch.exp(0.5 * logvar), dim=-1).mean(0))", "torch.exp(0.5 * logvar), dim=-1)[0])", BASELINES),
    Break("trailing batch of one not folded", "src/softtopic/trainer.py", "bounds.pop(-2)", "pass", BASELINES),
    # ---------------------------------------------------------------- the LM stage
    Break("LM rows returned in unique-prompt order", "src/softtopic/lm.py",
          "return logits_u[inverse], hidden_u[inverse], stats",
          "return logits_u[np.sort(inverse)], hidden_u[np.sort(inverse)], stats", LM),
    Break("LM rows of a shard stored in sorted order", "src/softtopic/lm.py",
          "index = np.asarray(indices, dtype=np.int64)", "index = np.sort(np.asarray(indices, dtype=np.int64))", LM),
    Break("resumed shard rows misplaced", "src/softtopic/lm.py",
          'logits_u[saved["index"]] = saved["logits"]', 'logits_u[np.sort(saved["index"])] = saved["logits"]', LM),
    Break("batches planned shortest first", "src/softtopic/lm.py",
          "key=lambda i: (-lengths[i], i)", "key=lambda i: (lengths[i], i)", LM),
    Break("shards reused after a dtype change", "src/softtopic/lm.py",
          'settings={"dtype": self.dtype, "device": self.device, "lm": self.manifest,',
          'settings={"device": self.device, "lm": self.manifest,', LM_JOB),
    Break("shards reused after a device change", "src/softtopic/lm.py",
          'settings={"dtype": self.dtype, "device": self.device, "lm": self.manifest,',
          'settings={"dtype": self.dtype, "lm": self.manifest,', LM_JOB),
    Break("shards reused after an LM change", "src/softtopic/lm.py",
          'settings={"dtype": self.dtype, "device": self.device, "lm": self.manifest,',
          'settings={"dtype": self.dtype, "device": self.device,', LM_JOB),
    Break("shard fingerprint ignores the settings", "src/softtopic/lm.py",
          "digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())",
          'digest = hashlib.sha256(b"")', LM),
    Break("check_restricted_head never raises", "src/softtopic/lm.py",
          "if error > tolerance * scale:", "if False:", LM),
    Break("extract skips the head check", "src/softtopic/lm.py",
          "stats.head_check_max_error = check_restricted_head(head, collate(batches[-1][:2]), dtype)",
          "stats.head_check_max_error = None", LM),
    # ---------------------------------------------------------------- the projection
    Break("bare-space rule removed", "src/softtopic/prompting.py",
          "if len(ids) > 1 and _is_bare_space(tokenizer, ids[0]):", "if False:", PROJECTION),
    Break("bare-space rule drops a lone bare space", "src/softtopic/prompting.py",
          "if len(ids) > 1 and _is_bare_space(tokenizer, ids[0]):",
          "if len(ids) > 0 and _is_bare_space(tokenizer, ids[0]):", PROJECTION),
    Break("bare space by piece name only", "src/softtopic/prompting.py",
          'return piece in ("▁", "Ġ", " ") or tokenizer.decode([token_id]).strip() == ""',
          'return piece in ("▁", "Ġ", " ")', PROJECTION),
    # ---------------------------------------------------------------- metrics
    Break("ARI replaced by NMI", "src/softtopic/metrics/clustering.py",
          '"ari": float(adjusted_rand_score(labels, clusters)),',
          '"ari": float(normalized_mutual_info_score(labels, clusters)),', METRICS),
    Break("purity and inverse purity swapped", "src/softtopic/metrics/clustering.py",
          "return float(table.max(axis=0).sum() / table.sum())",
          "return float(table.max(axis=1).sum() / table.sum())", METRICS),
    Break("RBO cross-rank overlap removed", "src/softtopic/metrics/diversity.py",
          "overlap += (a in seen_second) + (b in seen_first)", "overlap += 0", METRICS),
    Break("RBO without the extrapolation term", "src/softtopic/metrics/diversity.py",
          "return (overlap / depth) * p**depth + (1 - p) / p * weighted", "return (1 - p) / p * weighted", METRICS),
    Break("I-RBO not inverted", "src/softtopic/metrics/diversity.py",
          "return 1.0 - sum(rank_biased_overlap(a, b, p) for a, b in pairs) / len(pairs)",
          "return sum(rank_biased_overlap(a, b, p) for a, b in pairs) / len(pairs)", METRICS),
    # ---------------------------------------------------------------- corpus, vocabulary, config
    Break("vocabulary ties not alphabetical", "src/softtopic/vocabulary.py",
          "key=lambda item: (-item[1], item[0])", "key=lambda item: -item[1]", CORPUS),
    Break("rows with too few fields accepted", "src/softtopic/corpus.py",
          "if len(record) != len(header):", "if len(record) > len(header):", CORPUS),
    Break("non-object JSONL lines accepted", "src/softtopic/corpus.py",
          "if not isinstance(record, dict):", "if False:", CORPUS),
    Break("missing labels not counted", "src/softtopic/corpus.py",
          'report.missing_label = int((prepared["label"].isna() & ~empty).sum())', "report.missing_label = 0", CORPUS),
    Break("whitespace-only texts kept", "src/softtopic/corpus.py",
          "        return prepared_text(value), None\n", "        return value, None\n", CORPUS),
    Break("coherence reference not cross-checked", "src/softtopic/config.py",
          'if reference != "self" and reference not in config["corpora"]:', "if False:", CONFIG),
    Break("packaged corpus path not checked", "src/softtopic/config.py",
          'if corpus["path"] != expected:', "if False:", CONFIG),
    Break("missing GGUF accepted", "src/softtopic/config.py",
          'elif kind == "gguf" and not (root / source).expanduser().exists():', "elif False:", CONFIG),
    Break("config keys not sorted", "src/softtopic/config.py", "return _sorted_keys(config)", "return config", CONFIG),
    Break("TSV read with CSV quotes by default", "src/softtopic/corpus.py",
          'return ("csv" if fmt == "csv" else "none") if quoting == "auto" else quoting',
          'return "csv" if quoting == "auto" else quoting', CORPUS),
    Break("non-UTF-8 byte silently replaced", "src/softtopic/corpus.py",
          "text = raw.decode(encoding)", 'text = raw.decode(encoding, errors="replace")', CORPUS),
    # ---------------------------------------------------------------- new since the first list
    Break("clustering scores count unlabelled documents", "src/softtopic/metrics/clustering.py",
          'labelled = (labels.notna() & (labels.astype(str).str.strip() != "")).to_numpy()',
          "labelled = np.ones(len(labels), dtype=bool)", ("tests/test_bad_input.py",) + METRICS),
    Break("coherence window entered one token late", "src/softtopic/metrics/coherence.py",
          "enter = np.maximum(0, offset - window + 1)", "enter = np.maximum(0, offset - window)",
          ("tests/test_coherence.py",)),
    Break("retrieval counts the query itself", "src/softtopic/metrics/retrieval.py",
          "distances[np.arange(len(query_ids)), query_ids] = np.inf",
          "distances[np.arange(len(query_ids)), query_ids] += 0.0", ("tests/test_retrieval.py",)),
    Break("shard-dir lock never taken", "src/softtopic/lm.py",
          "    lock = _lock_shard_dir(shard_dir)\n", '    lock = open(_lock_path(shard_dir), "a+")\n',
          ("tests/test_bad_input.py",) + LM_JOB),
    Break("dtype auto takes bf16 on a CPU without native bf16", "src/softtopic/lm.py",
          'return "bfloat16" if cpu_has_native_bf16(cpuinfo) else "float32"', 'return "bfloat16"',
          ("tests/test_lm.py",)),
    Break("pulled outputs dated before the workflow code", "src/softtopic/share.py",
          "start = max(time.time() if now is None else now, newest_code_mtime(root))",
          "start = time.time() if now is None else now",
          ("tests/test_scale.py::test_touch_in_dag_order_makes_each_stage_no_older_than_the_one_before",
           "tests/test_scale.py::test_pulled_files_are_dated_after_the_workflow_code"), markers=""),
    # ---------------------------------------------------------------- faults at scale
    Break("non-finite LM outputs saved", "src/softtopic/lm.py",
          "            check_finite(logits, hidden, batch, inverse, document_ids)\n", "", LM_JOB),
    Break("shard size left out of the shard fingerprint", "src/softtopic/lm.py",
          ', "batches_per_shard": batches_per_shard}', "}", LM_JOB),
    Break("a failed write renamed into place", "src/softtopic/files.py",
          "        yield tmp\n        os.replace(tmp, path)\n",
          "        try:\n            yield tmp\n        finally:\n            os.replace(tmp, path)\n",
          ("tests/test_write_faults.py",)),
]


def apply(text: str, item: Break) -> str:
    count = text.count(item.old)
    if count != 1:
        raise SystemExit(f"break '{item.name}': its text occurs {count} times in {item.path} (expected once):\n"
                         f"  {item.old!r}\nUpdate tests/mutations/mutations.py to the current code.")
    return text.replace(item.old, item.new)


def copy_repo(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def present(root: Path, tests) -> list[str]:
    """The tests (files or node ids) whose file exists under `root`, in order, without repeats."""
    return list(dict.fromkeys(t for t in tests if (root / t.split("::")[0]).exists()))


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float, extra: list[str],
              markers: str = "not workflow", show_failure: bool = False) -> tuple[str, float]:
    """('pass' | 'fail' | 'timeout' | 'error <rc>', seconds) of `pytest -x -q` on `tests` in the copy."""
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "PYTHONDONTWRITEBYTECODE": "1",
           "SOFTTOPIC_SHARED_DATASETS": str(REPO.parent / "shared" / "datasets")}  # not beside the copy
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *(["-m", markers] if markers else []), *extra, *present(copy, tests)]
    start = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start
    seconds = time.perf_counter() - start
    outcome = {0: "pass", 1: "fail"}.get(result.returncode, f"error {result.returncode}")
    if outcome.startswith("error") or (show_failure and outcome != "pass"):
        print(result.stdout[-3000:], result.stderr[-2000:], file=sys.stderr)
    return outcome, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="run only the breaks whose name contains one of these words")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per break (default 600)")
    parser.add_argument("--check", action="store_true", help="only check that every break applies")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not first run the unbroken tests (only when you have just seen them pass)")
    parser.add_argument("--pytest-arg", action="append", default=[], help="passed on to pytest (repeatable)")
    args = parser.parse_args()
    for item in BREAKS:
        apply((REPO / item.path).read_text(encoding="utf-8"), item)
    breaks = [b for b in BREAKS if not args.only or any(w.lower() in b.name.lower() for w in args.only)]
    print(f"{len(BREAKS)} breaks apply to the current code; running {0 if args.check else len(breaks)}", flush=True)
    if args.check:
        return
    with tempfile.TemporaryDirectory(prefix="softtopic-mutations-") as tmp:
        copy = Path(tmp) / "repo"
        copy_repo(copy)
        where = subprocess.run([sys.executable, "-c", "import softtopic; print(softtopic.__file__)"], cwd=copy,
                               env={**os.environ, "PYTHONPATH": str(copy / "src")}, capture_output=True, text=True)
        if not where.stdout.startswith(str(copy)):
            raise SystemExit(f"the copy imports softtopic from {where.stdout.strip() or where.stderr}, not from itself")
        for markers in dict.fromkeys(b.markers for b in breaks if not args.skip_baseline):
            baseline_tests = tuple(dict.fromkeys(t for b in breaks if b.markers == markers for t in b.tests))
            outcome, seconds = run_tests(copy, baseline_tests, args.timeout * 3, args.pytest_arg, markers, True)
            print(f"unbroken: {outcome} in {seconds:.0f} s ({' '.join(baseline_tests)})", flush=True)
            if outcome != "pass":
                raise SystemExit("the unbroken suite does not pass; fix that first")
        rows = []
        for number, item in enumerate(breaks, start=1):
            path = copy / item.path
            original = path.read_text(encoding="utf-8")
            path.write_text(apply(original, item), encoding="utf-8")
            try:
                outcome, seconds = run_tests(copy, item.tests, args.timeout, args.pytest_arg, item.markers)
            finally:
                path.write_text(original, encoding="utf-8")
            verdict = "MISSED" if outcome == "pass" else "caught" if outcome == "fail" else f"caught ({outcome})"
            rows.append((item, verdict, seconds))
            print(f"[{number}/{len(breaks)}] {verdict:8s} {seconds:6.1f} s  {item.name}", flush=True)
    print("\n| # | break | file | tests | result | s |\n|---|---|---|---|---|---|")
    for number, (item, verdict, seconds) in enumerate(rows, start=1):
        stems = (Path(t.split("::")[0]).stem.removeprefix("test_") for t in present(REPO, item.tests))
        tests = ", ".join(dict.fromkeys(stems))
        print(f"| {number} | {item.name} | `{item.path}` | {tests} | {verdict} | {seconds:.0f} |")
    caught = sum(not verdict.startswith("MISSED") for _, verdict, _ in rows)
    print(f"\n{caught} of {len(rows)} breaks caught; missed: "
          + (", ".join(item.name for item, verdict, _ in rows if verdict == "MISSED") or "none"))


if __name__ == "__main__":
    main()
