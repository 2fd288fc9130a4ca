"""The compute path of notebook 09: settings, endpoint training, and the curves along the
interpolation lines (with and without weight matching) and the filter-normalized lines."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from hw1.alignment import match_hidden_units, permute_hidden_units
from hw1.config import ExperimentConfig
from hw1.data import DATASETS, load_dataset, load_subset
from hw1.ensemble import Ensemble, evaluate_ensemble, train_ensemble
from hw1.metrics import filter_normalized_direction
from hw1.models import image_mlp
from hw1.store import RunStore
from hw1.training import Criterion

ENDPOINTS = ("base", "large_batch", "large_lr", "base_independent",
             "large_batch_independent", "large_lr_independent")
PAIRS = {  # pair name: (endpoint at α = 0, endpoint at α = 1)
    "control: same settings, independent init": ("base", "base_independent"),
    "batch size, same init": ("base", "large_batch"),
    "batch size, independent init": ("base", "large_batch_independent"),
    "learning rate, same init": ("base", "large_lr"),
    "learning rate, independent init": ("base", "large_lr_independent"),
}
ALIGNED = " (units matched)"
"""Suffix of an independent-init pair whose θ₁ has its hidden units permuted to match θ₀."""
INDEPENDENT_OFFSET = 100
"""Independent initializations (and batch orders) use seed + this."""


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the interpolation experiment.

    Attributes:
        dataset, n_train, n_test: data (seeded subset).
        widths: hidden widths of the MLP.
        batch_sizes: (base, large) batch sizes, both at ``lrs[0]``.
        lrs: (base, large) Adam learning rates, both at ``batch_sizes[0]``.
        target_train_loss, max_steps, check_every: every endpoint trains until its
            full-training-set loss is at most ``target_train_loss`` (checked after each epoch
            and every ``check_every`` optimizer steps), or ``max_steps`` optimizer steps (the
            criterion regime of notebook 10).
        seeds: one endpoint of each kind per seed; independent partners use seed + 100.
        alphas: points of the coarse α grid from ``alpha_range[0]`` to ``alpha_range[1]``.
        fine_halfwidth, fine_points: a finer grid of ``fine_points`` values on
            ``[a − fine_halfwidth, a + fine_halfwidth]`` around a = 0 and a = 1.
        line_points, line_range: the filter-normalized curves take ``line_points`` values of
            t on ``[−line_range, line_range]``.
        line_directions: random directions per endpoint; its curve is their mean.
    """

    name: ClassVar[str] = "interpolation"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "batch_sizes", "lrs",
                                           "target_train_loss", "max_steps", "check_every",
                                           "alphas", "fine_halfwidth", "fine_points",
                                           "line_points", "line_range", "line_directions")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (64, 64)
    batch_sizes: tuple[int, ...] = (64, 1024)
    lrs: tuple[float, ...] = (1e-3, 5e-3)
    target_train_loss: float = 0.01
    max_steps: int = 20_000
    check_every: int = 50
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    alphas: int = 31
    alpha_range: tuple[float, ...] = (-1.0, 2.0)
    fine_halfwidth: float = 0.1
    fine_points: int = 21
    line_points: int = 17
    line_range: float = 1.0
    line_directions: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.batch_sizes) != 2 or len(self.lrs) != 2:
            raise ValueError("batch_sizes and lrs must each be a pair (two values)")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for bands and intervals, got {self.seeds}")
        self.criterion()  # a malformed criterion fails here, before any training

    def criterion(self) -> Criterion:
        """Every endpoint's stopping rule (notebook 10's criterion regime)."""
        return Criterion(train_loss_at_most=self.target_train_loss, max_steps=self.max_steps,
                         check_every=self.check_every)

    def alpha_grid(self) -> np.ndarray:
        """The coarse grid with the fine grids around 0 and 1, sorted and without repeats."""
        coarse = np.linspace(*self.alpha_range, self.alphas)
        fine = [np.linspace(a - self.fine_halfwidth, a + self.fine_halfwidth, self.fine_points)
                for a in (0.0, 1.0)]
        return np.unique(np.round(np.concatenate([coarse, *fine]), 10))

    def endpoint(self, kind: str) -> dict:
        """Batch size, learning rate and seed offset of an endpoint kind."""
        batch = self.batch_sizes[1] if "large_batch" in kind else self.batch_sizes[0]
        lr = self.lrs[1] if "large_lr" in kind else self.lrs[0]
        return {"batch_size": batch, "lr": lr,
                "seed_offset": INDEPENDENT_OFFSET if kind.endswith("independent") else 0}


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=500, n_test=200,
                                            widths=(16,), batch_sizes=(16, 128),
                                            lrs=(1e-3, 3e-3), target_train_loss=0.3,
                                            max_steps=300, check_every=10, seeds=(0, 1),
                                            alphas=7, fine_points=5, line_points=9,
                                            line_directions=2))


DIRECTION_SEED = 1_000_003
"""Direction k of seed s is drawn from ``Generator(DIRECTION_SEED * (s + 1) + k)``: a stream
apart from the initializations (``torch.manual_seed(s)``), so that a direction is not built
from the random numbers that made the initial weights."""


def _data(cfg: Config):
    return load_subset(cfg.dataset, cfg.n_train, cfg.n_test)


def _new_model(cfg: Config, data, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return image_mlp(data.input_shape, cfg.widths, data.num_classes)


def _data_spec(cfg: Config) -> dict:
    return {k: v for k, v in cfg.to_dict().items()
            if k in ("dataset", "n_train", "n_test", "widths", "target_train_loss", "max_steps",
                     "check_every")}


def _train_unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    d = _data(cfg)
    full = load_dataset(cfg.dataset)  # the whole test split, for paired tests over images
    e = spec["endpoint"]
    models = [_new_model(cfg, d, s) for s in seeds]
    hists, ens = train_ensemble(models, d.x_train, d.y_train, d.x_test, d.y_test,
                                batch_size=e["batch_size"], lr=e["lr"], seeds=seeds,
                                until=cfg.criterion(),
                                desc=f"batch {e['batch_size']}, lr {e['lr']:g}")
    flat = ens.flat_params().cpu()  # (R, P)
    with torch.inference_mode():
        correct = (ens.forward_shared(full.x_test).argmax(-1) == full.y_test).cpu().numpy()
    rows = [{"seed": s, "steps": h.steps, "epochs": h.epoch[-1], "reached": h.reached,
             "train_loss": h.train_loss[-1], "test_loss": h.test_loss[-1],
             "train_acc": h.train_acc[-1], "test_acc": h.test_acc[-1],
             "full_test_acc": float(correct[r].mean()), "weight_norm": float(flat[r].norm())}
            for r, (s, h) in enumerate(zip(seeds, hists, strict=True))]
    return {"rows": rows}, d.source, {"params": flat.numpy(), "full_test_correct": correct}


def _model_from(cfg: Config, data, flat: np.ndarray) -> nn.Module:
    model = _new_model(cfg, data, 0)
    nn.utils.vector_to_parameters(torch.as_tensor(flat), model.parameters())
    return model.eval()


def _flat(model: nn.Module) -> torch.Tensor:
    return nn.utils.parameters_to_vector(model.parameters()).detach()


def _evaluate_flats(template: nn.Module, flats: torch.Tensor, data) -> dict[str, np.ndarray]:
    """Loss and accuracy on the train and test sets of every parameter vector in ``flats``
    ``(M, P)`` at once (one stacked ensemble): ``{"train_loss", ...: (M,)}``."""
    ens = Ensemble([template] * len(flats))
    ens.flat = flats.detach().to(ens.flat.dtype)
    ens.to(flats.device)
    ce = nn.functional.cross_entropy
    out = {}
    for split, (x, y) in (("train", (data.x_train, data.y_train)),
                          ("test", (data.x_test, data.y_test))):
        loss, acc = evaluate_ensemble(ens, ce, x, y)
        out[f"{split}_loss"], out[f"{split}_acc"] = loss.numpy(), acc.numpy()
    return out


def _curve(template: nn.Module, a: torch.Tensor, b: torch.Tensor, alphas: np.ndarray,
           data) -> dict:
    """Loss and accuracy along ``lerp(a, b, α)`` (``(P,)`` each) for every α."""
    weights = torch.as_tensor(alphas, dtype=a.dtype)[:, None]
    points = _evaluate_flats(template, torch.lerp(a[None], b[None], weights), data)
    return {**{k: v.tolist() for k, v in points.items()},
            "distance": float((b - a).norm())}


def _curves_unit(cfg: Config, params: dict[str, np.ndarray], spec: dict,
                 seeds: list[int]) -> tuple[dict, str]:
    """Interpolation curves of every pair (and of every independent-init pair after weight
    matching) and the filter-normalized lines of every endpoint, per seed (the endpoints'
    parameters are passed in, already trained)."""
    d = _data(cfg)
    alphas = cfg.alpha_grid()
    template = _new_model(cfg, d, 0)
    curves = {}
    for pair, (a, b) in PAIRS.items():
        per_seed, aligned = [], []
        for r in range(len(seeds)):
            fa, fb = (torch.as_tensor(params[k][r]) for k in (a, b))
            per_seed.append(_curve(template, fa, fb, alphas, d))
            if "independent" in pair:  # weight matching (Ainsworth et al. 2023)
                ma, mb = _model_from(cfg, d, params[a][r]), _model_from(cfg, d, params[b][r])
                matched = permute_hidden_units(mb, match_hidden_units(ma, mb))
                aligned.append(_curve(template, fa, _flat(matched), alphas, d))
        curves[pair] = per_seed
        if aligned:
            curves[pair + ALIGNED] = aligned
    ts = torch.linspace(-cfg.line_range, cfg.line_range, cfg.line_points)
    lines = {}
    for kind in ENDPOINTS:
        per_seed = []
        for r, seed in enumerate(seeds):
            model = _model_from(cfg, d, params[kind][r])
            theta = _flat(model)
            # the same K Gaussian draws for every endpoint kind of seed index r (paired),
            # each filter-normalized to this endpoint's own weights; the curve is their mean
            points = []
            for k in range(cfg.line_directions):
                gen = torch.Generator().manual_seed(DIRECTION_SEED * (seed + 1) + k)
                direction = filter_normalized_direction(model, gen)
                step = torch.cat([direction[n].reshape(-1) for n, _ in model.named_parameters()])
                points.append(theta[None] + ts[:, None] * step[None])
            losses = _evaluate_flats(template, torch.cat(points), d)
            per_seed.append({f"{split}_loss": losses[f"{split}_loss"].reshape(
                cfg.line_directions, len(ts)).mean(0).tolist() for split in ("train", "test")})
        lines[kind] = per_seed
    return {"alphas": alphas.tolist(), "curves": curves, "t": ts.tolist(), "lines": lines}, \
        d.source


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) every endpoint kind (all seeds at once), then compute (or load) the
    interpolation curves and the filter-normalized lines.

    Args:
        cfg: the experiment's settings.
        executor: trains the missing endpoint ensembles; None: here, one after another.

    Returns:
        ``{"dataset", "source", "criterion", "endpoints": {kind: {"setting", "rows",
        "full_test_correct": (seeds, N) bools}}, "alphas", "curves": {pair: [per seed
        {metric: (A,)}]} (independent-init pairs also with the suffix :data:`ALIGNED`), "t",
        "lines": {kind: [per seed {"train_loss", "test_loss": (T,)}]}}``.
    """
    store = RunStore(cfg.name)
    base = _data_spec(cfg)
    settings = {kind: cfg.endpoint(kind) for kind in ENDPOINTS}
    items = [({**base, "endpoint": settings[k]},
              [s + settings[k]["seed_offset"] for s in cfg.seeds]) for k in ENDPOINTS]
    trained = store.sweep(items, partial(_train_unit, cfg), executor=executor)
    params = {k: run.arrays["params"] for k, run in zip(ENDPOINTS, trained, strict=True)}
    curve_spec = {**base, "curves": cfg.to_dict()}
    (stored,) = store.sweep([(curve_spec, list(cfg.seeds))],
                            partial(_curves_unit, cfg, params))
    return {"dataset": cfg.dataset, "source": stored.data_source,
            "criterion": cfg.criterion().describe(), "line_directions": cfg.line_directions,
            "endpoints": {k: {"setting": settings[k], "rows": run.result["rows"],
                              "full_test_correct": run.arrays["full_test_correct"]}
                          for k, run in zip(ENDPOINTS, trained, strict=True)},
            **stored.result}
