"""Training until a stated criterion under a step cap (hw1.training.Criterion)."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from hw1.ensemble import train_ensemble
from hw1.models import mlp
from hw1.training import Criterion, History, train

N, BATCH = 64, 16  # 4 optimizer steps per epoch
STEPS_PER_EPOCH = math.ceil(N / BATCH)


def _separable(n=N, seed=0, dtype=torch.float32):
    """Linearly separable 2-D points: the class is the side of the line x0 + x1/2 = 0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g, dtype=dtype)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


def _model(seed, dtype=torch.float32):
    torch.manual_seed(100 + seed)
    return mlp(2, [8], 2).to(dtype)


def _regressor():
    torch.manual_seed(7)
    return mlp(2, [8], 1)


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _fields(hist):
    """The recorded lists (everything but the new scalars ``steps`` and ``reached``)."""
    d = hist.to_dict()
    return {k: v for k, v in d.items() if k not in ("steps", "reached")}


def _prefix(hist, k):
    """The first ``k`` recorded epochs of ``hist`` (step lists left out)."""
    return {name: getattr(hist, name)[:k]
            for name in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")}


SETTINGS = {"batch_size": BATCH, "lr": 0.02, "seed": 0}


# --- the criterion object ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"max_steps": 10}, "needs a target: give train_loss_at_most"),
    ({"train_loss_at_most": 0.0, "max_steps": 10}, r"train_loss_at_most must be a positive"),
    ({"train_loss_at_most": -0.1, "max_steps": 10}, r"train_loss_at_most must be a positive"),
    ({"train_loss_at_most": math.nan, "max_steps": 10}, r"positive finite number, got nan"),
    ({"train_loss_at_most": "0.1", "max_steps": 10}, r"positive finite number, got '0.1'"),
    ({"train_acc_at_least": 0, "max_steps": 10}, r"train_acc_at_least must be a positive"),
    ({"train_acc_at_least": 99.5, "max_steps": 10},
     r"fraction in \(0, 1\], got 99\.5; .*write 0\.995 for 99\.5%"),
    ({"train_acc_at_least": 1.0001, "max_steps": 10}, r"fraction in \(0, 1\], got 1\.0001"),
    ({"train_acc_at_least": 0.9, "max_steps": 0}, r"max_steps must be a positive integer"),
    ({"train_acc_at_least": 0.9, "max_steps": -5}, r"max_steps must be a positive integer"),
    ({"train_acc_at_least": 0.9, "max_steps": 2.5}, r"max_steps must be a positive integer"),
    ({"train_acc_at_least": 0.9, "max_steps": True}, r"max_steps must be a positive integer"),
])
def test_invalid_criteria_are_rejected_when_built(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Criterion(**kwargs)


def test_criterion_is_frozen_normalised_and_described():
    c = Criterion(train_loss_at_most=0.01, train_acc_at_least=0.995, max_steps=20_000)
    assert c.describe() == ("train loss ≤ 0.01 or train accuracy ≥ 99.5%, "
                            "at most 20,000 optimizer steps")
    assert Criterion(train_acc_at_least=1, max_steps=np.int64(50)).describe() == (
        "train accuracy ≥ 100%, at most 50 optimizer steps")
    n = Criterion(train_loss_at_most=1, max_steps=np.int64(7))
    assert type(n.max_steps) is int and type(n.train_loss_at_most) is float
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.max_steps = 5
    with pytest.raises(TypeError):
        Criterion(0.01, max_steps=10)  # keyword-only: no guessing which target is which


def test_met_reads_the_last_record_and_any_target_is_enough():
    h = History(epoch=[0, 1], train_loss=[1.0, 0.01], train_acc=[0.5, 0.9])
    assert Criterion(train_loss_at_most=0.01, max_steps=1).met(h)  # inclusive
    assert not Criterion(train_loss_at_most=0.0099, max_steps=1).met(h)
    assert Criterion(train_acc_at_least=0.9, max_steps=1).met(h)  # inclusive
    assert not Criterion(train_acc_at_least=0.95, max_steps=1).met(h)
    assert Criterion(train_loss_at_most=1e-3, train_acc_at_least=0.9, max_steps=1).met(h)
    assert Criterion(train_loss_at_most=0.01, train_acc_at_least=0.95, max_steps=1).met(h)
    assert not Criterion(train_loss_at_most=1e-3, train_acc_at_least=0.95, max_steps=1).met(h)
    assert not Criterion(train_loss_at_most=10.0, max_steps=1).met(History())
    stored = History(epoch=[0], train_loss=[0.5], train_acc=[None])  # NaN as the store keeps it
    assert not Criterion(train_acc_at_least=0.5, max_steps=1).met(stored)
    assert Criterion(train_loss_at_most=0.5, train_acc_at_least=0.5, max_steps=1).met(stored)


def test_history_round_trips_and_old_dicts_still_load():
    h = History(epoch=[0, 1], train_loss=[1.0, 0.5], train_acc=[0.5, 1.0], test_loss=[1.0, 0.6],
                test_acc=[0.5, 0.75], steps=4, reached=True)
    assert History.from_dict(h.to_dict()) == h
    assert History.from_dict(json.loads(json.dumps(h.to_dict()))) == h
    old = {"epoch": [0, 1], "train_loss": [1.0, 0.5], "train_acc": [0.5, 1.0],
           "test_loss": [1.0, 0.6], "test_acc": [0.5, 0.75], "step_loss": [],
           "step_grad_norm": []}  # stored before steps/reached existed
    loaded = History.from_dict(old)
    assert loaded.steps is None and loaded.reached is None
    assert _fields(loaded) == old


# --- train(..., until=...) -----------------------------------------------------------------

def test_steps_are_counted_exactly_without_a_criterion():
    x, y = _separable(50)  # ceil(50 / 16) = 4 steps per epoch, the last one of 2 samples
    hist = train(_model(0), x, y, epochs=3, record_steps=True, **SETTINGS)
    assert hist.steps == 3 * math.ceil(50 / BATCH) == len(hist.step_loss) == 12
    assert hist.reached is None


def test_train_stops_at_the_first_epoch_meeting_the_accuracy_target():
    x, y = _separable()
    full_model = _model(0)
    full = train(full_model, x, y, x, y, epochs=30, **SETTINGS)
    target = 1.0
    stop = next(e for e, a in zip(full.epoch, full.train_acc, strict=True) if a >= target)
    assert stop >= 3  # the target is not met at once: the test says something

    model = _model(0)
    until = Criterion(train_acc_at_least=target, max_steps=10_000)
    hist = train(model, x, y, x, y, until=until, **SETTINGS)
    assert hist.epoch[-1] == stop
    assert _prefix(hist, stop + 1) == _prefix(full, stop + 1)  # bit for bit
    assert len(hist.epoch) == stop + 1
    assert all(a < target for a in hist.train_acc[:-1])
    assert hist.steps == stop * STEPS_PER_EPOCH and hist.reached is True

    same = _model(0)  # the same as training exactly `stop` epochs
    train(same, x, y, epochs=stop, **SETTINGS)
    assert torch.equal(_flat(same), _flat(model))


def test_a_criterion_met_before_training_takes_no_step():
    x, y = _separable()
    model = _model(0)
    before = _flat(model).clone()
    hist = train(model, x, y, until=Criterion(train_loss_at_most=100.0, max_steps=5),
                 **SETTINGS)
    assert hist.epoch == [0] and hist.steps == 0 and hist.reached is True
    assert torch.equal(_flat(model), before)


@pytest.mark.parametrize("cap", [10, 8])  # mid-epoch (2.5 epochs) and at an epoch's end
def test_the_step_cap_stops_at_exactly_max_steps_and_is_marked(cap):
    x, y = _separable()
    full = train(_model(0), x, y, epochs=5, record_steps=True, **SETTINGS)
    model = _model(0)
    hist = train(model, x, y, until=Criterion(train_loss_at_most=1e-12, max_steps=cap),
                 record_steps=True, **SETTINGS)
    assert hist.reached is False and hist.steps == cap
    last_epoch = math.ceil(cap / STEPS_PER_EPOCH)  # a partial epoch keeps its own number
    assert hist.epoch == list(range(last_epoch + 1))
    assert hist.step_loss == full.step_loss[:cap]  # the same trajectory, cut at the cap
    complete = cap // STEPS_PER_EPOCH  # epochs finished before the cap
    assert _prefix(hist, complete + 1) == _prefix(full, complete + 1)
    if cap % STEPS_PER_EPOCH == 0:
        same = _model(0)
        train(same, x, y, epochs=complete, **SETTINGS)
        assert torch.equal(_flat(same), _flat(model))


def test_epochs_act_as_a_further_cap_and_one_of_them_is_required():
    x, y = _separable()
    hist = train(_model(0), x, y, epochs=2,
                 until=Criterion(train_loss_at_most=1e-12, max_steps=1000), **SETTINGS)
    assert hist.epoch == [0, 1, 2] and hist.steps == 2 * STEPS_PER_EPOCH
    assert hist.reached is False
    with pytest.raises(ValueError, match=r"give epochs=\.\.\. or until=Criterion"):
        train(_model(0), x, y, **SETTINGS)
    with pytest.raises(TypeError, match="until must be a hw1.training.Criterion"):
        train(_model(0), x, y, until=lambda h: True, **SETTINGS)
    with pytest.raises(ValueError, match="train_acc_at_least needs integer class labels"):
        train(mlp(2, [4], 1), x, x[:, :1], loss="mse",
              until=Criterion(train_acc_at_least=0.9, max_steps=10), **SETTINGS)


def test_a_loss_target_stops_a_regression():
    x, _ = _separable()
    y = x[:, :1] - 2 * x[:, 1:]
    full = train(_regressor(), x, y, epochs=40, loss="mse", **SETTINGS)
    target = full.train_loss[len(full.train_loss) // 2]
    stop = next(e for e, v in zip(full.epoch, full.train_loss, strict=True) if v <= target)
    hist = train(_regressor(), x, y, loss="mse",
                 until=Criterion(train_loss_at_most=target, max_steps=10_000), **SETTINGS)
    assert hist.epoch[-1] == stop and hist.reached is True
    assert _prefix(hist, stop + 1) == _prefix(full, stop + 1)


# --- train_ensemble(..., until=...) --------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_ensemble_until_matches_separate_runs_and_freezes_models_that_are_done(optimizer):
    x, y = _separable(dtype=torch.float64)
    seeds = list(range(6))
    until = Criterion(train_acc_at_least=1.0, max_steps=30)  # the cap falls mid-epoch 8
    snapshots = {}

    def snapshot(epoch, ens, hists):
        snapshots[epoch] = ens.flat_params().clone()

    hists, ens = train_ensemble([_model(s, torch.float64) for s in seeds], x, y, x, y,
                                batch_size=BATCH, lr=0.02, seeds=seeds, optimizer=optimizer,
                                until=until, on_epoch_end=snapshot)
    for r, s in enumerate(seeds):
        model = _model(s, torch.float64)
        h = train(model, x, y, x, y, batch_size=BATCH, lr=0.02, seed=s, optimizer=optimizer,
                  until=until)
        assert hists[r].epoch == h.epoch
        assert hists[r].train_acc == h.train_acc and hists[r].test_acc == h.test_acc
        assert hists[r].train_loss == pytest.approx(h.train_loss, rel=1e-10)
        assert (hists[r].steps, hists[r].reached) == (h.steps, h.reached)
        torch.testing.assert_close(ens.flat_params()[r], _flat(model), rtol=0, atol=1e-6)

    stops = [h.epoch[-1] for h in hists]
    last = max(snapshots)
    assert last == math.ceil(30 / STEPS_PER_EPOCH) == 8
    assert min(stops) < last and not all(h.reached for h in hists)  # the test says something
    for r, h in enumerate(hists):
        if stops[r] < last:  # met early: frozen from then on, bit for bit, while others train
            assert h.reached and h.steps == stops[r] * STEPS_PER_EPOCH
            assert all(torch.equal(snapshots[e][r], snapshots[stops[r]][r])
                       for e in range(stops[r], last + 1))
        else:  # still training at the cap (it may have met the target at that last evaluation)
            assert h.steps == 30
            assert not torch.equal(snapshots[last][r], snapshots[last - 1][r])


def test_ensemble_without_criterion_counts_steps_and_stops_when_all_are_done():
    x, y = _separable()
    hists, _ = train_ensemble([_model(s) for s in range(2)], x, y, epochs=2, batch_size=BATCH,
                              lr=0.02, seeds=[0, 1])
    assert [(h.steps, h.reached) for h in hists] == [(2 * STEPS_PER_EPOCH, None)] * 2
    easy = Criterion(train_loss_at_most=100.0, max_steps=50)
    hists, ens = train_ensemble([_model(s) for s in range(2)], x, y, batch_size=BATCH, lr=0.02,
                                seeds=[0, 1], until=easy)
    assert [(h.epoch, h.steps, h.reached) for h in hists] == [([0], 0, True)] * 2
    assert torch.equal(ens.flat_params()[1], _flat(_model(1)))


# --- checking every k steps ------------------------------------------------------------------

def test_check_every_is_validated_and_described():
    with pytest.raises(ValueError, match="check_every must be a positive integer"):
        Criterion(train_loss_at_most=0.1, max_steps=10, check_every=0)
    with pytest.raises(ValueError, match="check_every must be a positive integer"):
        Criterion(train_loss_at_most=0.1, max_steps=10, check_every=2.5)
    c = Criterion(train_loss_at_most=0.1, max_steps=10_000, check_every=np.int64(50))
    assert c.check_every == 50 and type(c.check_every) is int
    assert c.describe().endswith("at most 10,000 optimizer steps, checked every 50 steps")
    assert Criterion(train_loss_at_most=0.1, max_steps=10).check_every is None  # default
    assert c.due(100) and not c.due(99)
    assert not Criterion(train_loss_at_most=0.1, max_steps=10).due(100)


def test_checking_every_step_stops_at_the_first_step_meeting_the_target():
    """With k = 1 the run stops at the first step whose full-set accuracy meets the target:
    a per-epoch run's last epoch contains it, and replaying steps one by one finds it."""
    x, y = _separable()
    until = Criterion(train_acc_at_least=1.0, max_steps=200, check_every=1)
    model = _model(0)
    h = train(model, x, y, **SETTINGS, until=until)
    assert h.reached and h.train_acc[-1] == 1.0
    # replay: the same batches, checked after every step, in a plain loop
    replay = _model(0)
    per_epoch = train(replay, x, y, **SETTINGS, until=Criterion(train_acc_at_least=1.0,
                                                                 max_steps=h.steps))
    assert per_epoch.steps == h.steps  # the cap at the found step stops there too ...
    torch.testing.assert_close(_flat(replay), _flat(model), rtol=0, atol=0)  # ... bit for bit
    early = _model(0)
    before = train(early, x, y, **SETTINGS, until=Criterion(train_acc_at_least=1.0,
                                                             max_steps=h.steps - 1))
    assert not before.reached  # one step earlier the target was not met
    if h.steps % STEPS_PER_EPOCH:  # it stopped mid-epoch: the history says which epoch
        assert h.epoch[-1] == h.steps // STEPS_PER_EPOCH + 1


@pytest.mark.parametrize("k", [1, 3])
def test_ensemble_checked_every_k_steps_equals_separate_runs(k):
    x, y = _separable(dtype=torch.float64)
    seeds = list(range(6))
    until = Criterion(train_acc_at_least=1.0, max_steps=30, check_every=k)
    hists, ens = train_ensemble([_model(s, torch.float64) for s in seeds], x, y, x, y,
                                batch_size=BATCH, lr=0.02, seeds=seeds, until=until)
    for r, s in enumerate(seeds):
        model = _model(s, torch.float64)
        h = train(model, x, y, x, y, batch_size=BATCH, lr=0.02, seed=s, until=until)
        assert hists[r].epoch == h.epoch
        assert hists[r].train_acc == h.train_acc and hists[r].test_acc == h.test_acc
        assert hists[r].train_loss == pytest.approx(h.train_loss, rel=1e-10)
        assert (hists[r].steps, hists[r].reached) == (h.steps, h.reached)
        torch.testing.assert_close(ens.flat_params()[r], _flat(model), rtol=0, atol=1e-6)
    if k == 1:  # the test says something: some model stops mid-epoch
        assert any(h.reached and h.steps % STEPS_PER_EPOCH for h in hists)
