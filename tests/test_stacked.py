"""The stacked ensemble's own parts: the (R, P) optimizer against torch.optim per model, the
hand-written MLP backward pass against autograd, the vmap path (CNNs), and the deferred
finiteness check.

Tolerances: float64 throughout; the fused Adam kernel and the hand-written backward pass round
differently from torch.optim.Adam's loop and autograd, so parameters are compared with
rtol=1e-10, atol=1e-12 after several steps (observed differences are ~1e-15).
"""

import copy
import math
import re

import pytest
import torch

import hw1.ensemble as ensemble_module
from hw1.ensemble import Ensemble, StackedOptimizer, evaluate_ensemble, train_ensemble
from hw1.models import cnn, mlp
from hw1.training import cosine_factor, train

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _models(r, make, seed0=0):
    out = []
    for s in range(r):
        torch.manual_seed(seed0 + s)
        out.append(make().double())
    return out


@pytest.mark.parametrize("name, impl", [("adam", "fused"), ("adam", "flat"), ("sgd", None)])
def test_stacked_optimizer_rows_follow_torch_optim_with_their_own_rate_schedule(name, impl):
    g = torch.Generator().manual_seed(0)
    R, P, T = 4, 37, 12
    init = torch.randn(R, P, generator=g, dtype=torch.float64)
    grads = torch.randn(T, R, P, generator=g, dtype=torch.float64)
    base = [1e-3, 1e-2, 1e-2, 3e-1]  # two rows share a rate (one fused call for both)

    def lrs(t):  # a cosine schedule of T steps per row
        return [b * cosine_factor(t, T) for b in base]

    flat = init.clone()
    opt = StackedOptimizer(name, flat, impl=impl)
    for t in range(T):
        opt.step(grads[t], lrs(t))
    for r in range(R):
        p = init[r].clone().requires_grad_(True)
        ref = (torch.optim.Adam([p], lr=base[r], foreach=False) if name == "adam"
               else torch.optim.SGD([p], lr=base[r], momentum=0.9, foreach=False))
        for t in range(T):
            ref.param_groups[0]["lr"] = lrs(t)[r]
            p.grad = grads[t, r].clone()
            ref.step()
        torch.testing.assert_close(flat[r], p.detach(), **TOL)


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_stacked_optimizer_leaves_rows_not_asked_for_bit_identical(name):
    g = torch.Generator().manual_seed(1)
    flat = torch.randn(3, 10, generator=g)
    opt = StackedOptimizer(name, flat)
    opt.step(torch.randn(3, 10, generator=g), [0.1] * 3)
    before = flat.clone()
    for _ in range(3):
        opt.step(torch.randn(3, 10, generator=g), [0.1, 0.2, 0.3], rows=[0, 2])
    assert torch.equal(flat[1], before[1])
    assert not torch.equal(flat[0], before[0]) and not torch.equal(flat[2], before[2])
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        StackedOptimizer("lion", flat)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_mlp_backward_by_hand_equals_autograd(activation, loss):
    R, B = 3, 9
    models = _models(R, lambda: mlp(5, [7, 6], 4, activation=activation))
    ens = Ensemble(models)
    assert ens._mlp is not None
    g = torch.Generator().manual_seed(2)
    x = torch.randn(R, B, 5, generator=g, dtype=torch.float64)
    y = (torch.randint(0, 4, (R, B), generator=g) if loss == "cross_entropy"
         else torch.randn(R, B, 4, generator=g, dtype=torch.float64))
    grad = torch.zeros_like(ens.flat)
    out = torch.zeros(R, dtype=torch.float64)
    ens._mlp.loss_and_grad(ens._mlp_views, ens._mlp.views(grad), x, y, loss, out)
    name = "mse_loss" if loss == "mse" else "cross_entropy"
    loss_fn = getattr(torch.nn.functional, name)
    for r, model in enumerate(models):
        model.zero_grad()
        value = loss_fn(model(x[r]), y[r])
        value.backward()
        expected = torch.cat([p.grad.flatten() for p in model.parameters()])
        torch.testing.assert_close(grad[r], expected, rtol=1e-12, atol=1e-14)
        sign = -1.0 if loss == "cross_entropy" else 1.0  # mean log-likelihood for CE
        assert out[r].item() == pytest.approx(sign * value.item(), rel=1e-12)


def test_cnn_ensemble_runs_through_vmap_and_equals_separate_runs():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(40, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=g)
    seeds, rates = [0, 1], [0.01, 0.03]

    def fresh(s):
        torch.manual_seed(50 + s)
        return cnn((1, 8, 8), [3, 4], 3).double()

    hists, ens = train_ensemble([fresh(s) for s in seeds], x, y, x, y, epochs=2, batch_size=16,
                                lr=rates, seeds=seeds, schedule="cosine")
    assert ens._mlp is None
    for r, s in enumerate(seeds):
        model = fresh(s)
        h = train(model, x, y, x, y, epochs=2, batch_size=16, lr=rates[r], seed=s,
                  schedule="cosine")
        assert h.train_loss == pytest.approx(hists[r].train_loss, rel=1e-10)
        torch.testing.assert_close(ens.flat_params()[r], _flat(model), **TOL)


def test_evaluate_ensemble_equals_per_model_evaluation_for_shared_and_own_labels():
    models = _models(3, lambda: mlp(4, [5], 3))
    ens = Ensemble(models)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(50, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (50,), generator=g)
    own = torch.randint(0, 3, (3, 50), generator=g)
    for labels in (y, own):
        loss, acc = evaluate_ensemble(ens, torch.nn.functional.cross_entropy, x, labels,
                                      chunk=16)
        for r, m in enumerate(models):
            yr = labels if labels.dim() == 1 else labels[r]
            out = m(x)
            assert loss[r].item() == pytest.approx(
                torch.nn.functional.cross_entropy(out, yr).item(), rel=1e-12)
            assert acc[r].item() == (out.argmax(1) == yr).double().mean().item()


def _diverging_setup(n=48, batch=8, bad=29):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] > 0).long()
    x[bad] = float("nan")
    return x, y


def _first_bad_step(seed, n, batch, bad):
    """The step (within epoch 1) at which the model with this seed first sees sample ``bad``."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return int((order == bad).nonzero()) // batch


@pytest.mark.parametrize("check_every", [256, 2])
def test_divergence_names_the_first_diverged_models_epoch_and_step(monkeypatch, check_every):
    monkeypatch.setattr(ensemble_module, "CHECK_EVERY", check_every)
    n, batch, bad = 48, 8, 29
    x, y = _diverging_setup(n, batch, bad)
    seeds = [0, 1, 2, 3]
    steps = [_first_bad_step(s, n, batch, bad) for s in seeds]
    first = min(steps)
    names = [r for r, s in enumerate(steps) if s == first]
    models = [mlp(2, [3], 2) for _ in seeds]
    with pytest.raises(FloatingPointError,
                       match=rf"model\(s\) {re.escape(str(names))} is not finite at epoch 1, "
                             rf"step {first} \(lr=0.1\)"):
        train_ensemble(models, x, y, epochs=2, batch_size=batch, lr=0.1, seeds=seeds)


def test_a_frozen_models_loss_is_not_checked():
    x, y = _diverging_setup()
    ens_models = [mlp(2, [3], 2) for _ in range(2)]
    steps = ensemble_module.EnsembleSteps(
        Ensemble(ens_models), x, y, loss="cross_entropy", optimizer="adam",
        lrs=lambda t: [0.1, 0.1])
    steps.freeze([0])
    idx = torch.stack([torch.arange(24, 32), torch.arange(0, 8)])  # model 0 sees the NaN
    before = steps.ens.flat_params()
    steps.step(idx, 1, 0)
    steps.check()  # no error: model 0 is frozen
    assert torch.equal(steps.ens.flat[0], before[0])
    with pytest.raises(FloatingPointError, match=r"model\(s\) \[1\] is not finite at epoch 1, "
                                                 r"step 1"):
        steps.step(idx.flip(0), 1, 1)
        steps.check()


def test_ensemble_params_are_views_of_the_flat_buffer():
    models = _models(2, lambda: mlp(3, [4], 2))
    ens = Ensemble(models)
    assert [tuple(v.shape) for v in ens.params.values()] == [(2, 4, 3), (2, 4), (2, 2, 4),
                                                              (2, 2)]
    with torch.no_grad():
        ens.flat.add_(1.0)
    m = ens.models()[1]
    torch.testing.assert_close(_flat(m), _flat(models[1]) + 1.0)
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(ens.forward_shared(x)[1], m(x))
    torch.testing.assert_close(ens.forward_each(x.expand(2, 5, 3))[1], m(x))
    assert math.isclose(ens.flat_params()[0, 0].item(), ens.flat[0, 0].item())
    copy.deepcopy(ens)


def test_evaluate_ensemble_fills_per_input_correctness_that_averages_to_the_accuracy():
    models = _models(3, lambda: mlp(4, [5], 3))
    ens = Ensemble(models)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(50, 4, generator=g, dtype=torch.float64)
    own = torch.randint(0, 3, (3, 50), generator=g)
    correct = torch.zeros(3, 50, dtype=torch.bool)
    _, acc = evaluate_ensemble(ens, torch.nn.functional.cross_entropy, x, own, chunk=16,
                               correct_out=correct)
    for r, m in enumerate(models):
        assert torch.equal(correct[r], m(x).argmax(1) == own[r])
    torch.testing.assert_close(correct.double().mean(1), acc)
    with pytest.raises(ValueError, match="correct_out"):
        evaluate_ensemble(ens, torch.nn.functional.cross_entropy, x, own,
                          correct_out=torch.zeros(3, 49, dtype=torch.bool))


def test_on_train_correct_sees_each_record_and_leaves_training_unchanged():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(40, 4, generator=g, dtype=torch.float64)
    own = torch.randint(0, 3, (2, 40), generator=g)
    seen = []
    kwargs = {"epochs": 3, "batch_size": 8, "lr": 1e-2, "seeds": [0, 1]}
    hists, ens = train_ensemble(_models(2, lambda: mlp(4, [6], 3)), x, own,
                                on_train_correct=lambda e, c: seen.append((e, c.clone())),
                                **kwargs)
    ref_hists, ref = train_ensemble(_models(2, lambda: mlp(4, [6], 3)), x, own, **kwargs)
    assert torch.equal(ens.flat_params(), ref.flat_params())
    assert [e for e, _ in seen] == [0, 1, 2, 3]
    for r, h in enumerate(hists):
        assert h.train_acc == ref_hists[r].train_acc
        assert h.train_acc == [c[r].double().mean().item() for _, c in seen]
