"""HW1-2 (visualize the optimization process): 8 runs' weights every few epochs, projected by
one PCA fitted jointly on all snapshots of all runs (so every run shares the axes)."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.decomposition import PCA

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, load_subset
from hw1.ensemble import Ensemble, train_ensemble
from hw1.models import count_params, mlp
from hw1.plotting import save_figure
from hw1.store import RunStore
from hw1.training import History


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the trajectory experiment.

    Attributes:
        dataset: dataset name; n_train, n_test: seeded subset sizes.
        widths: hidden widths of the MLP.
        epochs, snapshot_every: training length and how often weights are recorded.
        batch_size, lr: Adam settings.
        seeds: one run per seed (8 in the homework), trained together as a stacked ensemble.
    """

    name: ClassVar[str] = "optimization_trajectories"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "epochs",
                                           "snapshot_every", "batch_size", "lr")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (32, 32)
    epochs: int = 30
    snapshot_every: int = 3
    batch_size: int = 100
    lr: float = 1e-3
    seeds: tuple[int, ...] = tuple(range(8))


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=1000, n_test=300,
                                            widths=(16,), epochs=6, seeds=(0, 1, 2)))


def _train(cfg: Config) -> tuple[dict, str, dict]:
    data = load_subset(cfg.dataset, cfg.n_train, cfg.n_test)
    in_features = int(np.prod(data.input_shape))
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(mlp(in_features, list(cfg.widths), data.num_classes))
    snapshots, epochs, accs = [], [], []

    def snapshot(epoch: int, ens: Ensemble, hists: list[History]) -> None:
        if epoch % cfg.snapshot_every == 0:
            snapshots.append(ens.flat_params().cpu().numpy().astype(np.float32))
            epochs.append(epoch)
            accs.append([h.train_acc[-1] for h in hists])

    hists, _ = train_ensemble(models, data.x_train, data.y_train, data.x_test, data.y_test,
                              epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                              seeds=cfg.seeds, on_epoch_end=snapshot, desc="8 runs at once")
    first_layer = sum(p.numel() for p in list(models[0].parameters())[:2])
    result = {"histories": [h.to_dict() for h in hists], "snapshot_epochs": epochs,
              "snapshot_train_acc": np.array(accs).T, "n_params": count_params(models[0]),
              "first_layer_params": first_layer}
    return result, data.source, {"snapshots": np.stack(snapshots, axis=1)}  # (R, S, P)


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    return _train(cfg)


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) the runs. Returns the stored result plus ``snapshots`` ``(R, S, P)``.

    Args:
        cfg: the experiment's settings.
        executor: where to train the stacked ensemble (one task); None: here.
    """
    [stored] = RunStore(cfg.name).sweep([(cfg.to_dict(), list(cfg.seeds))], partial(_unit, cfg),
                                        executor=executor)
    return {**stored.result, "snapshots": stored.arrays["snapshots"],
            "source": stored.data_source}


def _part(results: dict, part: str) -> np.ndarray:
    snaps = np.asarray(results["snapshots"], dtype=np.float64)  # (R, S, P)
    if part == "first_layer":
        snaps = snaps[..., : results["first_layer_params"]]
    elif part != "whole":
        raise ValueError(f"part must be 'whole' or 'first_layer', got {part!r}")
    return snaps


def project(results: dict, part: str, components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Joint PCA of all snapshots of all runs.

    Args:
        part: ``"whole"`` (all parameters) or ``"first_layer"`` (first Linear's weight+bias).
        components: how many principal components to fit.

    Returns:
        ``(coords, explained)``: ``(R, S, components)`` coordinates and the components'
        explained-variance ratios ``(components,)``.
    """
    snaps = _part(results, part)
    R, S, P = snaps.shape
    pca = PCA(n_components=components, random_state=0).fit(snaps.reshape(R * S, P))
    return (pca.transform(snaps.reshape(R * S, P)).reshape(R, S, components),
            pca.explained_variance_ratio_)


def _pairwise(points: np.ndarray) -> np.ndarray:
    """Distances between all pairs of rows of ``points`` ``(R, P)``: ``(R*(R-1)/2,)``."""
    i, j = np.triu_indices(len(points), k=1)
    return np.linalg.norm(points[i] - points[j], axis=1)


def _pairwise_cos(unit: np.ndarray) -> np.ndarray:
    """Cosines between all pairs of rows of unit vectors ``(R, P)``: ``(R*(R-1)/2,)``."""
    i, j = np.triu_indices(len(unit), k=1)
    return np.sum(unit[i] * unit[j], axis=1)


def geometry(results: dict, part: str) -> dict[str, float]:
    """Distances and angles between the runs' initial and final weights.

    Returns:
        norms of the initial and final weights (mean over runs), the distance between two
        initializations, between two solutions, and from each run's initialization to its
        solution (mean, min, max), and the cosine between two runs' displacement vectors
        θ_end − θ_0 (mean of |cos| and the largest |cos|; for independent random directions
        in P dimensions E|cos| = √(2/(πP))). Ratios to the mean weight norm compare with √2,
        the distance between two independent zero-mean random vectors of equal norm.
    """
    snaps = _part(results, part)
    init, end = snaps[:, 0], snaps[:, -1]
    moves = end - init
    unit = moves / np.linalg.norm(moves, axis=1, keepdims=True)
    cos = np.abs(_pairwise_cos(unit))
    ii, ee, travel = _pairwise(init), _pairwise(end), np.linalg.norm(moves, axis=1)
    return {"part": part, "params": snaps.shape[2],
            "norm_init": float(np.linalg.norm(init, axis=1).mean()),
            "norm_end": float(np.linalg.norm(end, axis=1).mean()),
            "init_init_mean": float(ii.mean()), "init_init_min": float(ii.min()),
            "init_init_max": float(ii.max()),
            "init_to_end_mean": float(travel.mean()), "init_to_end_min": float(travel.min()),
            "init_to_end_max": float(travel.max()),
            "end_end_mean": float(ee.mean()), "end_end_min": float(ee.min()),
            "end_end_max": float(ee.max()),
            "init_init_over_norm_init": float(ii.mean() / np.linalg.norm(init, axis=1).mean()),
            "end_end_over_norm_end": float(ee.mean() / np.linalg.norm(end, axis=1).mean()),
            "init_to_end_over_init_init": float(travel.mean() / ii.mean()),
            "move_cos_abs_mean": float(cos.mean()), "move_cos_abs_max": float(cos.max()),
            "random_mean_abs_cos": float(np.sqrt(2 / (np.pi * snaps.shape[2])))}


def plane_view(results: dict, components: int = 2) -> list[dict]:
    """What the joint PCA plane shows of the geometry, per part.

    Returns:
        Rows with the mean distance between two initializations in full space and within
        the plane of PCs 1-2, their ratio, and for PC1 and PC2 the run whose displacement
        θ_end − θ_0 is best aligned with it and that |cos|.
    """
    rows = []
    for part in ("whole", "first_layer"):
        snaps = _part(results, part)
        coords, _ = project(results, part, components)
        R, S, P = snaps.shape
        pca = PCA(n_components=components, random_state=0).fit(snaps.reshape(R * S, P))
        moves = snaps[:, -1] - snaps[:, 0]
        moves /= np.linalg.norm(moves, axis=1, keepdims=True)
        align = np.abs(pca.components_ @ moves.T)  # (components, R)
        full, plane = _pairwise(snaps[:, 0]).mean(), _pairwise(coords[:, 0]).mean()
        row = {"part": part, "init_init_full": float(full), "init_init_in_plane": float(plane),
               "in_plane_share": float(plane / full)}
        for k in range(components):
            row[f"PC{k + 1}_best_run"] = int(align[k].argmax())
            row[f"PC{k + 1}_best_cos"] = float(align[k].max())
        rows.append(row)
    return rows


def geometry_table(results: dict) -> list[dict]:
    """:func:`geometry` for the whole model and the first layer, one row per quantity."""
    parts = {part: geometry(results, part) for part in ("whole", "first_layer")}
    return [{"quantity": k, **{part: g[k] for part, g in parts.items()}}
            for k in parts["whole"] if k != "part"]


def summary(results: dict) -> list[dict]:
    """Per part: explained variance of the two components and final accuracies."""
    acc = np.asarray(results["snapshot_train_acc"])
    rows = []
    for part in ("whole", "first_layer"):
        _, ev = project(results, part)
        rows.append({"part": part, "PC1_var": float(ev[0]), "PC2_var": float(ev[1]),
                     "final_train_acc_min": float(acc[:, -1].min()),
                     "final_train_acc_max": float(acc[:, -1].max())})
    return rows


def explained_variance(results: dict, components: int = 8) -> list[dict]:
    """Per part: the explained-variance ratio of PCs 1..``components`` and their sum."""
    rows = []
    for part in ("whole", "first_layer"):
        _, ev = project(results, part, components)
        rows.append({"part": part, **{f"PC{k + 1}": float(v) for k, v in enumerate(ev)},
                     f"PC1-{components}": float(ev.sum())})
    return rows


def make_figures(results: dict) -> list[plt.Figure]:
    """Trajectories on the shared PCA plane, whole model and first layer."""
    figs = []
    acc = np.asarray(results["snapshot_train_acc"])
    for part, title in (("whole", "whole model"), ("first_layer", "first layer")):
        coords, ev = project(results, part)
        fig, ax = plt.subplots(figsize=(6.4, 5.2))
        for r in range(len(coords)):
            ax.plot(coords[r, :, 0], coords[r, :, 1], "-o", color=f"C{r}", ms=3, lw=1,
                    label=f"run {r}")
            ax.plot(*coords[r, 0], "o", mfc="white", mec=f"C{r}", ms=6, zorder=3)
            for s in (1, coords.shape[1] - 1):  # after the first interval and at the end
                ax.annotate(f"{100 * acc[r, s]:.1f}", coords[r, s], fontsize=6, color=f"C{r}",
                            xytext=(3, -3 if s == 1 else 3), textcoords="offset points")
        ax.set_aspect("equal", adjustable="datalim")  # distances on the plane are comparable
        ax.set(xlabel=f"PC1 ({100 * ev[0]:.1f}% of variance)",
               ylabel=f"PC2 ({100 * ev[1]:.1f}% of variance)",
               title=f"Weights of the {title} every {results['snapshot_epochs'][1]} epochs, "
                     "one joint PCA\n(open circle: start; labels: training accuracy % after "
                     f"epoch {results['snapshot_epochs'][1]} and at the end)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside the data
        save_figure(fig, f"optimization_trajectory_{part}")
        figs.append(fig)
    return figs
