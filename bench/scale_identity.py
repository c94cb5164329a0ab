"""Identity of the streamed training path with the in-memory one, across checkouts: train DSL-ProdLDA (with
and without standardize_input) and ProdLDA on a 10^4 x 2,000 synthetic data set with whichever softtopic
is importable, and save theta, beta and the loss history.

    /work/main/.venv/bin/python bench/scale_identity.py /tmp/before.npz whole   # a checkout before
    .venv/bin/python bench/scale_identity.py /tmp/after.npz mmap                # this one (memory maps)

then compare every array with np.array_equal (docs/scale.md)."""
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

import softtopic
from softtopic.models import TopicData, make_model

out, mmap = Path(sys.argv[1]), sys.argv[2] == "mmap"
data_dir = Path("/tmp/softtopic-scale-identity")
if not (data_dir / "logits.npy").exists():
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n, v, d = 10_000, 2000, 128
    labels = rng.integers(0, 20, n)
    bow = sp.random(n, v, density=0.01, format="csr", random_state=0, dtype=np.float32)
    bow.data = np.ceil(bow.data * 3)
    sp.save_npz(data_dir / "bow.npz", bow)
    np.save(data_dir / "logits.npy", (rng.normal(size=(n, v)) + np.eye(20)[labels].repeat(100, axis=1)).astype(np.float32))
    np.save(data_dir / "hidden.npy", rng.normal(size=(n, d)).astype(np.float32))
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
data = TopicData(bow=sp.load_npz(data_dir / "bow.npz").tocsr(), vocabulary=[f"w{i}" for i in range(2000)],
                 logits=np.load(data_dir / "logits.npy", mmap_mode="r" if mmap else None),
                 hidden=np.load(data_dir / "hidden.npy", mmap_mode="r" if mmap else None))
arrays = {}
for name, params in [("dsl", {"tau": 3.0}), ("dsl_std", {"tau": 3.0, "standardize_input": True}), ("prodlda", {})]:
    model = make_model(name.split("_")[0], num_topics=20, epochs=2, device="cpu", **params)
    history = model.fit(data, seed=0)
    arrays |= {f"{name}_theta": model.theta(), f"{name}_beta": model.beta(), f"{name}_history": np.asarray(history)}
np.savez(out, **arrays)
print(softtopic.__file__, {k: v.shape for k, v in arrays.items()})
