import numpy as np
import pytest
import torch

from softtopic.softlabel import soft_label


def test_soft_label_is_softmax_of_logits_over_tau():
    y = np.array([[2.0, 1.0, 0.0, -1.0]], dtype=np.float32)
    for tau in (0.5, 1.0, 3.0, 10.0):
        expected = np.exp(y / tau) / np.exp(y / tau).sum()
        np.testing.assert_allclose(soft_label(y, tau).numpy(), expected, rtol=1e-6)


def test_renormalised_over_the_vocabulary_only():
    full_vocabulary_logits = torch.randn(3, 1000)
    gathered = full_vocabulary_logits[:, :50]  # the |V| words among the LM's tokens
    target = soft_label(gathered, 3.0)
    torch.testing.assert_close(target.sum(-1), torch.ones(3))
    assert not torch.allclose(torch.softmax(full_vocabulary_logits / 3.0, -1)[:, :50].sum(-1), torch.ones(3))


def test_stored_logits_stay_tau_free():
    y = torch.randn(4, 20)
    kept = y.clone()
    soft_label(y, 5.0, top_k=3)
    assert torch.equal(y, kept)
    # Higher tau flattens, lower sharpens: entropy rises with tau.
    entropy = [-(p * p.log()).sum() for p in (soft_label(y, t)[0] for t in (0.5, 1, 3, 10))]
    assert all(a < b for a, b in zip(entropy, entropy[1:]))


def test_top_k_sparsification_keeps_k_words_renormalised():
    y = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])
    target = soft_label(y, 1.0, top_k=2)
    assert int((target > 0).sum()) == 2
    torch.testing.assert_close(target.sum(-1), torch.ones(1))
    assert int((soft_label(y, 1.0, top_ratio=0.6) > 0).sum()) == 3


@pytest.mark.parametrize("tau", [0, -1.5])
def test_non_positive_tau_is_refused(tau):
    with pytest.raises(ValueError, match="tau must be > 0"):
        soft_label(torch.zeros(1, 3), tau)


def test_top_p_keeps_the_smallest_set_reaching_p_renormalised():
    probabilities = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probabilities.log()
    for p, kept in ((0.49, 1), (0.51, 2), (0.79, 2), (0.81, 3), (0.94, 3), (0.96, 4), (1.0, 4)):
        target = soft_label(logits, 1.0, top_p=p)
        assert int((target > 0).sum()) == kept, p
        expected = probabilities.clone()
        expected[:, kept:] = 0
        torch.testing.assert_close(target, expected / expected.sum(), msg=str(p))


def test_top_p_is_taken_at_the_target_temperature():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.2, -0.5, 3.0, 0.9]])
    for tau in (0.5, 3.0):
        full = soft_label(logits, tau)
        target = soft_label(logits, tau, top_p=0.7)
        for row, kept_row in zip(full, target):
            ranked = torch.sort(row, descending=True).values
            size = int((kept_row > 0).sum())
            assert ranked[:size].sum() >= 0.7 and (size == 1 or ranked[: size - 1].sum() < 0.7)
        torch.testing.assert_close(target.sum(-1), torch.ones(2))


@pytest.mark.parametrize("p", [0, 1.5])
def test_top_p_outside_the_unit_interval_is_refused(p):
    with pytest.raises(ValueError, match="top-p share"):
        soft_label(torch.zeros(1, 3), 1.0, top_p=p)
