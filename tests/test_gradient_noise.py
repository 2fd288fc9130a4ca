"""gradient_noise against exact answers: every possible mini-batch enumerated."""

import itertools

import pytest
import torch

from hw1.metrics import gradient_noise
from hw1.models import mlp


def _setup(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, generator=g, dtype=torch.float64)
    y = torch.randn(n, 2, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    model = mlp(3, [4], 2).double()
    return model, X, y


def _batch_grad_sq(model, loss_fn, X, y):
    model.zero_grad()
    loss_fn(model(X), y).backward()
    return sum(float(p.grad.pow(2).sum()) for p in model.parameters())


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7])
def test_prediction_equals_the_mean_over_every_possible_batch(batch_size):
    model, X, y = _setup()
    mse = torch.nn.functional.mse_loss
    exact = [_batch_grad_sq(model, mse, X[list(idx)], y[list(idx)])
             for idx in itertools.combinations(range(len(X)), batch_size)]
    got = gradient_noise(model, mse, X, y, batch_size=batch_size, chunk_size=3)
    assert got["predicted_batch_norm_sq"] == pytest.approx(sum(exact) / len(exact), rel=1e-10)
    assert got["grad_norm_sq"] == pytest.approx(_batch_grad_sq(model, mse, X, y), rel=1e-10)
    if batch_size == len(X):  # the whole set: no sampling noise
        assert got["noise_sq"] == 0.0


def test_trace_of_covariance_matches_per_sample_loop():
    model, X, y = _setup(n=5, seed=1)
    mse = torch.nn.functional.mse_loss
    grads = []
    for i in range(len(X)):
        model.zero_grad()
        mse(model(X[i:i + 1]), y[i:i + 1]).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    G = torch.stack(grads)
    trace = float(((G - G.mean(0)) ** 2).sum(1).mean())
    assert gradient_noise(model, mse, X, y, 2)["trace_cov"] == pytest.approx(trace, rel=1e-10)


def test_bad_input_and_model_untouched():
    model, X, y = _setup()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="batch_size must be between 1 and the 7 samples"):
        gradient_noise(model, torch.nn.functional.mse_loss, X, y, batch_size=8)
    gradient_noise(model, torch.nn.functional.mse_loss, X, y, batch_size=2)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="without buffers"):
        gradient_noise(torch.nn.BatchNorm1d(3), torch.nn.functional.mse_loss, X, X, 2)


def test_short_batch_steps_marks_each_epochs_last_partial_batch():
    from hw1.experiments.gradient_norm import short_batch_steps

    assert short_batch_steps(10, 4, 9).nonzero()[0].tolist() == [2, 5, 8]  # 3 steps per epoch
    assert not short_batch_steps(12, 4, 9).any()  # 4 divides 12: no short batches
