"""The scale paths against the in-memory and exact ones on small data: training batches built from
memory-mapped LM outputs and the sparse BoW, theta and input statistics in blocks, a fixed number of
optimizer steps, and retrieval over documents read in blocks or a sample of queries."""

import functools
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

import softtopic.models.neural as neural
import softtopic.lm
from softtopic.lm import gather_parts
from softtopic.metrics.retrieval import labelled_precision, precision_at_k, query_precision, retrieval_scores
from softtopic.models import TopicData
from softtopic.models.neural import InputStandardizer
from softtopic.models.prodlda import DSLProdLDA, ProdLDA
from softtopic.rows import npz_row_blocks, npz_shape
from softtopic.softlabel import soft_label
from softtopic.trainer import BatchRows, train_network


def corpus(tmp_path, n=300, vocabulary=40, hidden=12, seed=0):
    """A small corpus whose logits and hidden states are memory-mapped .npy files, as training reads them."""
    rng = np.random.default_rng(seed)
    bow = rng.poisson(0.3, (n, vocabulary)).astype(np.float32)
    bow[::17] = 0  # some empty documents: ProdLDA leaves them out, DSL keeps them
    arrays = {"logits": rng.normal(size=(n, vocabulary)).astype(np.float32),
              "hidden": rng.normal(size=(n, hidden)).astype(np.float32)}
    data = TopicData(bow=sp.csr_matrix(bow), vocabulary=[f"w{i}" for i in range(vocabulary)])
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
        setattr(data, name, np.load(tmp_path / f"{name}.npy", mmap_mode="r"))
    in_memory = TopicData(bow=data.bow, vocabulary=data.vocabulary, **arrays)
    return data, in_memory


def fit_in_memory(model, data, seed):
    """What NeuralTopicModel.fit did before batches were built on demand: whole-corpus tensors."""
    torch.manual_seed(seed)
    rows = model.rows(data)
    x, target = model.inputs(data, rows), model.targets(data, rows)
    model.network = model.build_network(data, x.shape[1])
    for module in model.network.modules():
        if isinstance(module, InputStandardizer):
            module.fit_to(x)

    def loss(batch_x, batch_target):
        prediction, penalty = model.network(batch_x, model.decoder_tau)
        return (penalty + model.reconstruction(batch_target, prediction)).sum()

    history = train_network(model.network, x, target, loss, model.settings, seed)
    return history, model.network.infer_theta(x, seed=seed).numpy(), model.network.topic_word().detach().numpy()


@pytest.mark.parametrize("make", [
    lambda: DSLProdLDA(num_topics=3, tau=2.0, epochs=2, batch_size=32, standardize_input=True, device="cpu"),
    lambda: DSLProdLDA(num_topics=3, tau=3.0, epochs=2, batch_size=32, target_top_k=5, device="cpu"),
    lambda: ProdLDA(num_topics=3, epochs=2, batch_size=32, device="cpu"),
], ids=["dsl-standardized", "dsl-top5", "prodlda"])
def test_batches_from_memory_maps_train_the_same_model_as_whole_tensors(tmp_path, make):
    mapped, in_memory = corpus(tmp_path)
    model = make()
    history = model.fit(mapped, seed=3)
    expected_history, expected_theta, expected_beta = fit_in_memory(make(), in_memory, seed=3)
    assert history == expected_history
    np.testing.assert_array_equal(model.theta(), expected_theta)
    np.testing.assert_array_equal(model.beta(), expected_beta)


def test_theta_and_input_statistics_in_blocks_equal_one_pass(tmp_path, monkeypatch):
    mapped, in_memory = corpus(tmp_path, n=2500)
    model = DSLProdLDA(num_topics=3, epochs=1, batch_size=500, standardize_input=True, device="cpu")
    model.fit(mapped, seed=0)
    whole = model.network.input_norm.mean.clone(), model.network.input_norm.std.clone()
    monkeypatch.setattr(neural, "BLOCK_ROWS", 1024)  # 3 blocks; still a multiple of the 1024-row inference batch
    blocked = DSLProdLDA(num_topics=3, epochs=1, batch_size=500, standardize_input=True, device="cpu")
    blocked.fit(mapped, seed=0)
    torch.testing.assert_close(blocked.network.input_norm.mean, whole[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(blocked.network.input_norm.std, whole[1], rtol=1e-6, atol=0)
    # theta of 3 blocks draws the same posterior noise as one call over all 2,500 documents
    x = torch.as_tensor(in_memory.hidden)
    torch.manual_seed(1)
    np.testing.assert_allclose(blocked.theta(), blocked.network.infer_theta(x).numpy(), rtol=0, atol=1e-6)


def test_batch_rows_build_only_the_rows_asked_for():
    built = []

    def build(rows):
        built.append(rows.copy())
        return torch.as_tensor(rows, dtype=torch.float32)[:, None]

    rows = BatchRows(build, np.array([10, 11, 12, 13, 14]))
    assert rows[torch.tensor([4, 0])].flatten().tolist() == [14.0, 10.0]
    assert [block.flatten().tolist() for block in rows.chunks(2)] == [[10.0, 11.0], [12.0, 13.0], [14.0]]
    assert [list(b) for b in built] == [[14, 10], [10, 11], [12, 13], [14]]


@pytest.mark.parametrize("steps", [1, 7, 12])
def test_steps_stop_training_after_that_many_optimizer_steps(tmp_path, steps):
    mapped, _ = corpus(tmp_path, n=200)
    model = DSLProdLDA(num_topics=3, epochs=50, batch_size=32, steps=steps, device="cpu")  # 7 batches an epoch
    calls = []
    step = torch.optim.Adam.step

    def counting_step(self, *args, **kwargs):
        calls.append(1)
        return step(self, *args, **kwargs)

    torch.optim.Adam.step = counting_step
    try:
        history = model.fit(mapped, seed=0)
    finally:
        torch.optim.Adam.step = step
    assert len(calls) == steps and len(history) == -(-steps // 7)


def test_every_query_over_document_blocks_equals_exact_ranking():
    rng = np.random.default_rng(1)
    theta = rng.dirichlet(np.full(5, 0.4), size=300)
    theta[40] = theta[7]  # exact ties, across blocks
    theta[41] = theta[7]
    theta[250] = theta[7]
    labels = rng.integers(0, 4, size=300)
    exact = precision_at_k(theta, labels, ks=(1, 5, 10))
    for cells in (300 * 11, 300 * 64, 10**9):  # blocks of 11 and 64 documents, then one block
        hits = query_precision(theta, labels, np.arange(300), ks=(1, 5, 10), cells=cells)
        assert {f"p@{k}": hits[:, i].mean() for i, k in enumerate((1, 5, 10))} == pytest.approx(exact, abs=1e-12)
    bow = sp.csr_matrix(rng.poisson(0.5, (300, 30)).astype(np.float64))
    exact = precision_at_k(bow, labels, ks=(1, 5), distance="cosine")
    hits = query_precision(bow, labels, np.arange(300), ks=(1, 5), distance="cosine", cells=300 * 16)
    assert {"p@1": hits[:, 0].mean(), "p@5": hits[:, 1].mean()} == pytest.approx(exact, abs=1e-12)


def test_below_the_threshold_retrieval_is_the_exact_one_and_says_so():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(60, 8)).astype(np.float32)
    labels = pd.Series(rng.integers(0, 3, size=60).astype(str), dtype=object)
    labels[5] = None
    scores = retrieval_scores(logits, labels, (1, 5), "kl", {"exact_up_to": 100, "queries": 10, "seed": 0},
                              transform=lambda rows: soft_label(rows, 1.0).numpy())
    expected = labelled_precision(soft_label(logits, 1.0).numpy(), labels, (1, 5), "kl")
    assert scores == expected | {"p@1_se": 0.0, "p@5_se": 0.0, "retrieval_mode": "exact", "retrieval_queries": 59}


def test_sampled_retrieval_on_20000_documents_is_within_its_interval_of_the_exact_value():
    rng = np.random.default_rng(0)
    n, topics = 20_000, 10
    labels = rng.integers(0, topics, size=n)
    theta = rng.dirichlet(np.full(topics, 0.3), size=n) * 0.5 + np.eye(topics)[labels] * 0.5
    noise = rng.random(n) < 0.4  # a share of rows that say nothing of their label
    theta[noise] = rng.dirichlet(np.full(topics, 0.3), size=int(noise.sum()))
    theta /= theta.sum(1, keepdims=True)
    exact = precision_at_k(theta, labels, ks=(1, 5, 10), block=2048)
    sampled = retrieval_scores(theta, labels, (1, 5, 10), "kl", {"exact_up_to": 10_000, "queries": 1000, "seed": 0})
    assert sampled["retrieval_mode"] == "sampled" and sampled["retrieval_queries"] == 1000
    for k in (1, 5, 10):
        assert 0 < sampled[f"p@{k}_se"] < 0.05
        assert abs(sampled[f"p@{k}"] - exact[f"p@{k}"]) <= 1.96 * sampled[f"p@{k}_se"], (k, sampled, exact)


def test_gathering_lm_parts_into_files_equals_gathering_in_memory(tmp_path, monkeypatch):
    stats = {"documents": 0, "unique_prompts": 0, "prompt_tokens": 0, "tokens_computed_this_run": 0,
             "seconds_computing": 0.0, "shards_total": 0, "shards_resumed": 0, "head_check_max_abs_error": None}
    rng = np.random.default_rng(4)
    owners = rng.integers(0, 3, size=50)
    files = []
    expected = {"logits": np.zeros((50, 7), np.float32), "hidden": np.zeros((50, 4), np.float32)}
    for part in range(3):
        documents = np.flatnonzero(owners == part)
        arrays = {"logits": rng.normal(size=(len(documents), 7)).astype(np.float32),
                  "hidden": rng.normal(size=(len(documents), 4)).astype(np.float32)}
        for key, values in arrays.items():
            expected[key][documents] = values
        files.append(tmp_path / f"{part}.npz")
        np.savez(files[-1], documents=documents, total_documents=50, meta=json.dumps({"extraction": stats}), **arrays)
    monkeypatch.setattr(softtopic.lm, "npz_row_blocks",  # blocks of 3 rows: a part spans several
                        functools.partial(npz_row_blocks, block_bytes=3 * 7 * 4))
    logits, hidden, meta = gather_parts(files)
    mapped_logits, _, mapped_meta = gather_parts(files, tmp_path / "logits.npy", tmp_path / "hidden.npy")
    np.testing.assert_array_equal(logits, expected["logits"])
    np.testing.assert_array_equal(hidden, expected["hidden"])
    np.testing.assert_array_equal(np.load(tmp_path / "logits.npy"), expected["logits"])
    np.testing.assert_array_equal(np.load(tmp_path / "hidden.npy"), expected["hidden"])
    assert isinstance(mapped_logits, np.memmap) and mapped_meta == meta


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
@pytest.mark.parametrize("shape", [(10,), (9, 4), (5, 2, 3), (0, 6)])
@pytest.mark.parametrize("block_bytes", [1, 20, 1 << 20])
def test_npz_row_blocks_read_each_array_as_np_load_does(tmp_path, save, shape, block_bytes):
    values = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) * 1.5
    save(tmp_path / "a.npz", values=values, other=np.ones(3))
    blocks = list(npz_row_blocks(tmp_path / "a.npz", "values", block_bytes=block_bytes))
    assert [start for start, _ in blocks] == list(np.cumsum([0] + [len(b) for _, b in blocks])[:-1])
    joined = np.concatenate([b for _, b in blocks]) if blocks else np.zeros(shape)
    np.testing.assert_array_equal(joined, values)
    assert npz_shape(tmp_path / "a.npz", "values") == shape


def test_npz_row_blocks_name_an_array_cut_short(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10, 3)})
    with zipfile.ZipFile(tmp_path / "cut.npz", "w") as archive:  # says 10 rows, holds 4
        archive.writestr("logits.npy", header.getvalue() + np.ones((4, 3), np.float32).tobytes())
    with pytest.raises(ValueError, match=r"cut.npz: array 'logits' ends after 0 of its 10 rows"):
        list(npz_row_blocks(tmp_path / "cut.npz", "logits"))
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((3, 2))))
    with zipfile.ZipFile(tmp_path / "f.npz", "w") as archive:
        archive.write(tmp_path / "f.npy", "hidden.npy")
    with pytest.raises(ValueError, match="not a C-ordered numeric array"):
        list(npz_row_blocks(tmp_path / "f.npz", "hidden"))


def test_the_retrieval_table_says_which_figures_are_sampled():
    from softtopic.tables import retrieval_sampling_note

    runs = pd.DataFrame({"corpus": ["big", "big", "small"], "retrieval_mode": ["sampled", "sampled", "exact"],
                         "retrieval_queries": [2000, 2000, 300], "p@1_se": [0.01, 0.012, 0.0], "p@5_se": [0.009, 0.008, 0.0]})
    references = pd.DataFrame({"corpus": ["big"], "retrieval_mode": ["sampled"], "retrieval_queries": [2000],
                               "p@1_se": [0.02], "p@5_se": [0.01]})
    note = retrieval_sampling_note([runs, references])
    assert note.startswith("P@k big: sampled, 2,000 queries against all documents (largest standard error 0.0200)")
    assert "small: exact" in note
    assert retrieval_sampling_note([pd.DataFrame({"corpus": ["old"], "p@1": [0.5]})]) == ""  # tables before sampling


def resident_file_mib() -> float:
    """File-backed pages resident in this process (memory maps), from /proc/self/status."""
    line = next(line for line in open("/proc/self/status") if line.startswith("RssFile:"))
    return int(line.split()[1]) / 1024


def test_rows_read_from_a_memory_map_do_not_stay_in_the_process(tmp_path):
    from softtopic.rows import take

    np.save(tmp_path / "logits.npy", np.ones((8192, 2048), dtype=np.float32))  # 64 MiB
    blocks = [np.arange(start, start + 256) for start in range(0, 8192, 256)]
    mapped = np.load(tmp_path / "logits.npy", mmap_mode="r")
    before = resident_file_mib()
    total = sum(float(take(mapped, rows).sum()) for rows in blocks)
    assert total == 8192 * 2048 and resident_file_mib() - before < 8
    plain = np.load(tmp_path / "logits.npy", mmap_mode="r")
    before = resident_file_mib()
    total = sum(float(plain[rows].sum()) for rows in blocks)
    assert resident_file_mib() - before > 48  # what reading a memory map costs without releasing its pages
    np.testing.assert_array_equal(take(mapped, blocks[3]), np.asarray(plain)[blocks[3]])
    bow = sp.random(10, 5, density=0.5, format="csr", random_state=0)
    assert (take(bow, [1, 3]) != bow[[1, 3]]).nnz == 0
