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


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_linear_method_equals_per_sample_vmap(loss):
    """The outer-product identity gives the vmap numbers (an MLP with a Flatten, 2 hidden
    layers, chunks that do not divide N)."""
    from hw1.training import loss_function

    g = torch.Generator().manual_seed(3)
    X = torch.randn(23, 2, 3, generator=g, dtype=torch.float64)
    y = (torch.randn(23, 4, generator=g, dtype=torch.float64) if loss == "mse"
         else torch.randint(0, 4, (23,), generator=g))
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Flatten(), mlp(6, [5, 3], 4)).double()
    fn = loss_function(loss)
    slow = gradient_noise(model, fn, X, y, 4, chunk_size=5)
    fast = gradient_noise(model, fn, X, y, 4, chunk_size=7, method="linear")
    for key in ("grad_norm_sq", "trace_cov", "noise_sq", "predicted_batch_norm_sq"):
        assert fast[key] == pytest.approx(slow[key], rel=1e-10)


def test_linear_method_refuses_other_parameters():
    X = torch.randn(4, 3)
    conv = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 3)), torch.nn.Conv1d(1, 1, 2),
                               torch.nn.Flatten())
    with pytest.raises(ValueError, match="inside an nn.Linear"):
        gradient_noise(conv, torch.nn.functional.mse_loss, X, X[:, :2], 2, method="linear")
    lin = torch.nn.Linear(3, 3)
    twice = torch.nn.Sequential(lin, torch.nn.ReLU(), lin)
    with pytest.raises(ValueError, match="applied once"):
        gradient_noise(twice, torch.nn.functional.mse_loss, X, X, 2, method="linear")
    with pytest.raises(ValueError, match="unknown method"):
        gradient_noise(lin, torch.nn.functional.mse_loss, X, X, 2, method="exact")
