"""Share and scale, for real: a DVC round trip through a local remote, and the tiny config on a SLURM cluster.

Both start from one local run of the tiny config inside a fresh git repository holding the project's files.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from slurm_cluster import SlurmCluster, missing_programs

pytestmark = pytest.mark.workflow
TINY = "config/test/config.yaml"
LM_DIR = "results/bbc/lm/smollm2/default"
# Jobs that Snakemake runs itself (the Snakefile's `localrules:`), never on the cluster.
LOCAL_RULES = set(re.findall(r"^    (\w+),$", (REPO / "Snakefile").read_text().split("localrules:")[1].split("\n\n")[0],
                             flags=re.M))


def run(command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def snakemake(root, *args, env=None):
    return run([sys.executable, "-m", "snakemake", "--configfile", TINY, "--cores", "2", *args], root, env)


def git(root, *args):
    return run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args], root)


def share(root, action):
    return run([sys.executable, "-m", "softtopic.share", action], root)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project's files (as git sees them) in a new git repository with a local DVC remote, after a
    local run of the tiny config."""
    root = tmp_path_factory.mktemp("project")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    git(root, "init", "-q")
    run([sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(tmp_path_factory.mktemp("remote"))], root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the project")
    snakemake(root)
    return root


def test_dvc_pull_reuses_the_lm_outputs_on_a_fresh_clone(project, tmp_path):
    print(share(project, "push"))
    tracked = (project / "results.dvc").read_text()
    for path in ("resources/lm", "results/bbc/lm", "results/bbc/corpus", "results/bbc/vocabulary"):
        assert f"path: {path}\n" in tracked, path
    git(project, "add", "results.dvc", "data.dvc")
    git(project, "commit", "-q", "-m", "Share LM outputs")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    assert not (clone / ".snakemake").exists() and not (clone / "resources").exists()
    share(clone, "pull")
    np.testing.assert_array_equal(np.load(clone / LM_DIR / "logits.npy"), np.load(project / LM_DIR / "logits.npy"))
    plan = snakemake(clone, "-n")
    scheduled = set(re.findall(r"^rule (\w+):", plan, flags=re.M))
    assert scheduled and scheduled.isdisjoint(
        {"materialise_corpus", "prepare_corpus", "build_vocabulary", "acquire_lm", "lm_outputs", "gather_lm_outputs"}
    ), plan
    start = time.perf_counter()
    snakemake(clone)
    print(f"LM-free run of the tiny config after dvc pull: {time.perf_counter() - start:.1f} s")
    assert not (clone / "benchmarks" / "lm").exists() and not (clone / "benchmarks/bbc/lm").exists()
    pd.testing.assert_frame_equal(pd.read_csv(clone / "reports/bbc/metrics.csv"),
                                  pd.read_csv(project / "reports/bbc/metrics.csv"))


def test_touch_in_dag_order_makes_each_stage_no_older_than_the_one_before(tmp_path):
    from softtopic.share import STAGES, touch_in_dag_order, tracked_directories

    files = ["data/raw/x.jsonl", "results/c/lm/m/p/logits.npy", "results/c/vocabulary/vocabulary.txt",
             "results/c/corpus/documents.parquet", "resources/lm/m/model/config.json", "resources/lm/m/lm.json"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert touch_in_dag_order(tmp_path, now=1_000_000) == len(files)
    mtime = {name: (tmp_path / name).stat().st_mtime for name in files}
    assert mtime["data/raw/x.jsonl"] < mtime["resources/lm/m/lm.json"] == mtime["resources/lm/m/model/config.json"]
    assert mtime["resources/lm/m/lm.json"] < mtime["results/c/corpus/documents.parquet"]
    assert mtime["results/c/corpus/documents.parquet"] < mtime["results/c/vocabulary/vocabulary.txt"]
    assert mtime["results/c/vocabulary/vocabulary.txt"] < mtime["results/c/lm/m/p/logits.npy"] <= 1_000_000 + len(STAGES)
    assert tracked_directories(tmp_path) == ["resources/lm", "results/c/corpus", "results/c/vocabulary", "results/c/lm"]
    assert STAGES[0] == "data"


def test_pulled_files_are_dated_after_the_workflow_code(tmp_path):
    """A fresh clone dates scripts at checkout; outputs dated before them would rerun ("Code has changed")."""
    from softtopic.share import touch_in_dag_order

    script, output = tmp_path / "scripts" / "job.py", tmp_path / "data" / "raw" / "x.jsonl"
    for path in (script, output):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    os.utime(script, (2_000_000, 2_000_000))  # checked out "after" the pull's clock reading
    touch_in_dag_order(tmp_path, now=1_000_000)
    assert output.stat().st_mtime > script.stat().st_mtime


# ---------------------------------------------------------------- SLURM
def slurm_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the throw-away SLURM cluster runs its daemons as root; run the tests as root"
    missing = missing_programs()
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge; .ci/run does this)"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = slurm_unavailable()
    if reason:
        if os.environ.get("SOFTTOPIC_REQUIRE_SLURM") == "1":  # set by .ci/run: there it must run
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def slurm_snakemake(root, workdir, cluster, *args, popen=False):
    """The profile as shipped, plus what this one-node test cluster needs: its LM jobs go to the `gpu`
    partition but ask for no GPU (it has none), with the 2 CPUs it has; no accounting, so squeue."""
    command = [sys.executable, "-m", "snakemake", "--configfile", TINY, "--cores", "2", "--profile", "profiles/slurm",
               "-d", str(workdir), "--jobs", "2", "--set-resources", "lm_outputs:slurm_partition=gpu",
               "lm_outputs:gpu=0", "--set-threads", "lm_outputs=2", "--slurm-status-command", "squeue",
               "--slurm-init-seconds-before-status-checks", "2", *args]
    if popen:
        return subprocess.Popen(command, cwd=root, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    return run(command, root, cluster.env)


def wait_for(ready, timeout, what):
    deadline = time.time() + timeout
    while not (found := ready()):
        assert time.time() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.002)
    return found


def test_tiny_config_through_the_slurm_profile_equals_a_local_run(project, cluster, tmp_path):
    workdir = tmp_path / "on-slurm"
    start = time.perf_counter()
    printed = slurm_snakemake(project, workdir, cluster)
    print(f"tiny config through SLURM: {time.perf_counter() - start:.1f} s")

    # Every job that is not a localrule ran as a SLURM job, in the partition its rule asks for.
    benchmarks = [p.relative_to(workdir / "benchmarks") for p in (workdir / "benchmarks").rglob("*.tsv")]
    allocations = re.findall(r"sched: Allocate JobId=(\d+) .*Partition=(\w+)",
                             (cluster.root / "log" / "slurmctld.log").read_text())
    partition = dict(allocations)
    slurm_logs = {p.stem: p.relative_to(workdir / "logs" / "slurm") for p in (workdir / "logs" / "slurm").rglob("*.log")}
    rules = sorted(str(path.parts[0]).removeprefix("rule_") for path in slurm_logs.values())
    # Snakemake prints "rule X:" for each job it submits and "localrule X:" for each it runs itself.
    submitted = sorted(re.findall(r"^rule (\w+):", printed, flags=re.M))
    local = re.findall(r"^localrule (\w+):", printed, flags=re.M)
    assert set(local) <= LOCAL_RULES and set(rules).isdisjoint(LOCAL_RULES)
    assert rules == submitted and len(slurm_logs) == len(partition)
    assert len(benchmarks) == len(submitted) + len(local) - 1  # every job but `all` writes a benchmark
    assert rules.count("lm_outputs") == 1 and rules.count("train_dsl") == 2 and rules.count("evaluate_run") == 4
    for job, path in slurm_logs.items():
        assert partition[job] == ("gpu" if path.parts[0] == "rule_lm_outputs" else "cpu"), path

    for name in (f"{LM_DIR}/logits.npy", f"{LM_DIR}/hidden.npy"):
        np.testing.assert_array_equal(np.load(workdir / name), np.load(project / name))
    pd.testing.assert_frame_equal(pd.read_csv(workdir / "reports/bbc/metrics.csv"),
                                  pd.read_csv(project / "reports/bbc/metrics.csv"))


def test_an_lm_job_cancelled_on_slurm_resumes_from_its_finished_shards(project, cluster, tmp_path):
    """scancel an LM job between two of its shards (the job is paused there with SIGSTOP, so the moment is
    exact); Snakemake reports the job failed, and the rerun resumes from the finished shards and writes
    the arrays of the uninterrupted local run."""
    workdir = tmp_path / "cancelled"
    for name in ("data/raw", "resources/lm", "results/bbc/corpus", "results/bbc/vocabulary"):  # mtimes kept
        shutil.copytree(project / name, workdir / name)
    shards = workdir / LM_DIR / "shards" / "1-of-1"
    lock = shards.with_name("1-of-1.lock")
    start = time.perf_counter()
    first = slurm_snakemake(project, workdir, cluster, "--retries", "0", f"{LM_DIR}/logits.npy", popen=True)
    try:
        # the job's extraction process writes its PID into the lock once it holds it, before any shard
        pid = wait_for(lambda: lock.exists() and lock.read_text().strip().isdigit() and int(lock.read_text()),
                       300, "LM job holding its shard lock")
        wait_for(lambda: (shards / "shard-00000.npz").exists(), 120, "first shard")
        os.kill(pid, signal.SIGSTOP)
        finished = sorted(p.name for p in shards.glob("shard-*.npz"))
        (job,) = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i"], env=cluster.env, capture_output=True, text=True,
                                check=True).stdout.split()
        subprocess.run(["scancel", job], env=cluster.env, check=True)
        os.kill(pid, signal.SIGCONT)  # the pending SIGTERM of scancel ends it before another shard
        printed, _ = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode != 0 and "Error in rule lm_outputs" in printed, printed[-3000:]
    assert "rule acquire_lm" not in printed and "rule build_vocabulary" not in printed  # only the LM stage ran
    assert sorted(p.name for p in shards.glob("shard-*.npz")) == finished
    assert not (workdir / LM_DIR / "parts").exists() or not list((workdir / LM_DIR / "parts").iterdir())

    cancelled = time.perf_counter()
    slurm_snakemake(project, workdir, cluster, f"{LM_DIR}/logits.npy")
    print(f"LM job cancelled on SLURM: {cancelled - start:.1f} s to the failed run's end, rerun "
          f"{time.perf_counter() - cancelled:.1f} s")
    extraction = json.loads((workdir / LM_DIR / "meta.json").read_text())["extraction"]
    assert extraction["shards_resumed"] == len(finished) < extraction["shards_total"], (finished, extraction)
    assert extraction["tokens_computed_this_run"] < extraction["prompt_tokens"]
    for name in (f"{LM_DIR}/logits.npy", f"{LM_DIR}/hidden.npy"):
        np.testing.assert_array_equal(np.load(workdir / name), np.load(project / name))
    assert not shards.exists()  # removed once the arrays were written
