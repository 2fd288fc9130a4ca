import copy
import math

import pytest
import torch

from hw1.ensemble import Ensemble, train_ensemble
from hw1.models import mlp
from hw1.training import Criterion, History, batches, evaluate, gradient_global_norm, train


def _toy_classification(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def test_batches_cover_every_sample_once_in_seeded_order():
    x = torch.arange(10).float()
    got = [b for b, _ in batches(x, x, 4, torch.Generator().manual_seed(1))]
    assert [len(b) for b in got] == [4, 4, 2]
    assert sorted(torch.cat(got).tolist()) == list(range(10))
    again = [b for b, _ in batches(x, x, 4, torch.Generator().manual_seed(1))]
    assert all(torch.equal(a, b) for a, b in zip(got, again, strict=True))
    with pytest.raises(ValueError, match="batch_size must be positive"):
        next(batches(x, x, 0))


def test_training_lowers_the_loss_on_a_toy_problem():
    x, y = _toy_classification()
    torch.manual_seed(0)
    model = mlp(2, [16], 2)
    hist = train(model, x, y, x, y, epochs=20, batch_size=32, lr=1e-2, seed=0)
    assert hist.epoch == list(range(21))
    assert hist.train_loss[-1] < 0.5 * hist.train_loss[0]
    assert hist.train_acc[-1] > 0.9
    assert not model.training


def test_stop_when_ends_training_early():
    x, y = _toy_classification()
    torch.manual_seed(0)
    hist = train(mlp(2, [16], 2), x, y, epochs=50, batch_size=32, lr=1e-2, seed=0,
                 stop_when=lambda h: h.train_acc[-1] > 0.9)
    assert hist.train_acc[-1] > 0.9 and all(a <= 0.9 for a in hist.train_acc[1:-1])
    assert len(hist.epoch) < 51


def test_same_seed_gives_identical_history():
    x, y = _toy_classification()

    def run():
        torch.manual_seed(3)
        return train(mlp(2, [8, 8], 2), x, y, epochs=3, batch_size=16, lr=1e-2, seed=5,
                     record_steps=True)

    a, b = run(), run()
    assert a.to_dict() == b.to_dict()
    assert len(a.step_loss) == 3 * 16 and len(a.step_grad_norm) == 3 * 16
    assert History.from_dict(a.to_dict()) == a


def test_step_grad_norm_is_the_global_gradient_norm():
    x, y = _toy_classification(32)
    model = mlp(2, [4], 2)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    expected = math.sqrt(sum((p.grad ** 2).sum().item() for p in model.parameters()))
    assert gradient_global_norm(model) == pytest.approx(expected, rel=1e-6)


def test_nan_loss_names_epoch_and_step():
    x, y = _toy_classification(64)
    x[40] = float("nan")
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 1, step \d"):
        train(mlp(2, [4], 2), x, y, epochs=2, batch_size=16, lr=1e-2, seed=0)


@pytest.mark.parametrize("kwargs, match", [({"epochs": 0}, "epochs must be a positive"),
                                           ({"batch_size": -1}, "batch_size must be positive"),
                                           ({"lr": 0.0}, "learning rate must be positive"),
                                           ({"optimizer": "lion"}, "unknown optimizer 'lion'"),
                                           ({"loss": "hinge"}, "unknown loss 'hinge'")])
def test_bad_training_settings(kwargs, match):
    x, y = _toy_classification(16)
    settings = {"epochs": 1, "batch_size": 4, "lr": 0.1, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        train(mlp(2, [4], 2), x, y, **settings)


def test_evaluate_restores_mode_and_handles_regression():
    x = torch.randn(10, 1)
    model = mlp(1, [3], 1).train()
    loss, acc = evaluate(model, torch.nn.functional.mse_loss, x, x)
    assert model.training and math.isnan(acc) and loss > 0


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_stacked_ensemble_equals_separate_runs(optimizer):
    x, y = _toy_classification(100)
    seeds = list(range(8))  # the trajectory experiment trains 8 runs this way

    def fresh(s):
        torch.manual_seed(100 + s)
        return mlp(2, [6, 5], 2).double()

    hists, ens = train_ensemble([fresh(s) for s in seeds], x.double(), y, x.double(), y,
                                epochs=3, batch_size=16, lr=0.05, seeds=seeds,
                                optimizer=optimizer)
    for r, s in enumerate(seeds):
        model = fresh(s)
        h = train(model, x.double(), y, x.double(), y, epochs=3, batch_size=16, lr=0.05,
                  seed=s, optimizer=optimizer)
        assert h.train_loss == pytest.approx(hists[r].train_loss, rel=1e-10)
        assert h.test_acc == hists[r].test_acc
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.testing.assert_close(flat, ens.flat_params()[r], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ens.models()[r](x.double()), model(x.double()))


def test_ensemble_rejects_mixed_architectures_and_diverging_models():
    with pytest.raises(ValueError, match="share one architecture"):
        Ensemble([mlp(2, [3], 2), mlp(2, [4], 2)])
    x, y = _toy_classification(32)
    x[5] = float("inf")
    with pytest.raises(FloatingPointError, match=r"model\(s\) \[0, 1\] is not finite at epoch 1"):
        train_ensemble([mlp(2, [3], 2), mlp(2, [3], 2)], x, y, epochs=1, batch_size=64,
                       lr=0.1, seeds=[0, 1])


def test_ensemble_per_model_learning_rates_equal_separate_runs():
    x, y = _toy_classification(100)
    rates = [0.01, 0.05, 0.2]

    def fresh():
        torch.manual_seed(7)
        return mlp(2, [6, 5], 2).double()

    hists, ens = train_ensemble([fresh() for _ in rates], x.double(), y, epochs=3,
                                batch_size=16, lr=rates, seeds=[3, 3, 3])
    for r, rate in enumerate(rates):
        model = fresh()
        h = train(model, x.double(), y, epochs=3, batch_size=16, lr=rate, seed=3)
        assert h.train_loss == pytest.approx(hists[r].train_loss, rel=1e-9)
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.testing.assert_close(flat, ens.flat_params()[r], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_ensemble_cosine_schedule_equals_a_hand_written_loop(optimizer):
    x, y = _toy_classification(64)
    x = x.double()
    rates, epochs = [0.02, 0.1], 5  # full batch: 5 steps, step t at lr (1 + cos(pi t / 5)) / 2
    torch.manual_seed(1)
    init = mlp(2, [4], 2).double()
    _, ens = train_ensemble([copy.deepcopy(init) for _ in rates], x, y, epochs=epochs,
                            batch_size=len(x), lr=rates, seeds=[0, 0], optimizer=optimizer,
                            schedule="cosine")
    for r, rate in enumerate(rates):
        model = copy.deepcopy(init)
        opt = (torch.optim.Adam(model.parameters(), lr=rate) if optimizer == "adam"
               else torch.optim.SGD(model.parameters(), lr=rate, momentum=0.9))
        for t in range(epochs):
            for group in opt.param_groups:
                group["lr"] = rate * 0.5 * (1 + math.cos(math.pi * t / epochs))
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.testing.assert_close(flat, ens.flat_params()[r], rtol=1e-9, atol=1e-12)


def test_ensemble_rejects_bad_learning_rates_and_schedules():
    x, y = _toy_classification(16)
    models = [mlp(2, [3], 2), mlp(2, [3], 2)]
    with pytest.raises(ValueError, match="one learning rate per model"):
        train_ensemble(models, x, y, epochs=1, batch_size=8, lr=[0.1], seeds=[0, 1])
    with pytest.raises(ValueError, match="positive and finite"):
        train_ensemble(models, x, y, epochs=1, batch_size=8, lr=[0.1, -1.0], seeds=[0, 1])
    with pytest.raises(ValueError, match="unknown schedule 'step'"):
        train_ensemble(models, x, y, epochs=1, batch_size=8, lr=0.1, seeds=[0, 1],
                       schedule="step")


def test_train_cosine_schedule_matches_the_ensemble_and_needs_epochs():
    x, y = _toy_classification(64)
    x = x.double()
    torch.manual_seed(2)
    init = mlp(2, [4], 2).double()
    model = copy.deepcopy(init)
    train(model, x, y, epochs=3, batch_size=16, lr=0.05, seed=4, schedule="cosine")
    _, ens = train_ensemble([copy.deepcopy(init)], x, y, epochs=3, batch_size=16, lr=[0.05],
                            seeds=[4], schedule="cosine")
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close(flat, ens.flat_params()[0], rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="needs epochs"):
        train(mlp(2, [3], 2), x.float(), y, batch_size=16, lr=0.1, seed=0, schedule="cosine",
              until=Criterion(train_acc_at_least=0.5, max_steps=10))


def test_eval_train_size_records_the_training_metrics_on_the_first_samples_only():
    torch.manual_seed(0)
    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    model = torch.nn.Linear(3, 2)
    seen = []
    hist = train(model, x, y, epochs=2, batch_size=8, lr=0.1, seed=0, eval_train_size=10,
                 on_epoch_end=lambda e, m, h: seen.append(evaluate(
                     m, torch.nn.functional.cross_entropy, x[:10], y[:10])))
    assert hist.train_loss == [s[0] for s in seen] and hist.train_acc == [s[1] for s in seen]
    assert evaluate(model, torch.nn.functional.cross_entropy, x, y)[0] != hist.train_loss[-1]
    with pytest.raises(ValueError, match="eval_train_size"):
        train(model, x, y, epochs=1, batch_size=8, lr=0.1, seed=0, eval_train_size=0)
