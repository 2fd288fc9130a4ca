"""The tables of the trajectory experiment: the joint PCA plane, the geometry of the runs'
starts and ends, the runs' predictions in function space and the alignment of their hidden
units (with the forward passes over the stored snapshots they need)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from hw1.data import load_subset
from hw1.models import mlp

from .run import Config


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


def geometry(results: dict, part: str) -> dict[str, object]:
    """Distances and angles between the runs' initial and final weights.

    Args:
        results: what :func:`run` returns.
        part: ``"whole"`` or ``"first_layer"``.

    Returns:
        Per run ``(R,)``: the norms of the initial and final weights (``norm_init``,
        ``norm_end``) and the distance from each run's initialization to its solution
        (``travel``); per pair of runs ``(R*(R-1)/2,)``: the distance between two
        initializations (``init_init``), between two solutions (``end_end``) and the |cos|
        between two runs' displacement vectors θ_end − θ_0 (``move_cos``); and ``params``
        and ``random_mean_abs_cos``, the E|cos| = √(2/(πP)) of independent random directions
        in P dimensions. Ratios of a pair distance to the mean norm compare with √2, the
        distance between two independent zero-mean random vectors of equal norm.
    """
    snaps = _part(results, part)
    init, end = snaps[:, 0], snaps[:, -1]
    moves = end - init
    unit = moves / np.linalg.norm(moves, axis=1, keepdims=True)
    return {"params": snaps.shape[2],
            "norm_init": np.linalg.norm(init, axis=1), "norm_end": np.linalg.norm(end, axis=1),
            "travel": np.linalg.norm(moves, axis=1),
            "init_init": _pairwise(init), "end_end": _pairwise(end),
            "move_cos": np.abs(_pairwise_cos(unit)),
            "random_mean_abs_cos": float(np.sqrt(2 / (np.pi * snaps.shape[2])))}


def plane_view(results: dict, components: int = 2) -> dict[str, dict]:
    """What the joint PCA plane shows of the geometry, per part.

    Args:
        results: what :func:`run` returns.
        components: how many principal components to fit.

    Returns:
        ``{part: row}``, each row with the explained-variance ratios of the components
        (``explained``), the mean distance between two initializations in full space and
        within the plane of PCs 1-2, and for each PC the run whose displacement θ_end − θ_0
        is best aligned with it and that |cos| (``best_run``, ``best_cos``, one per PC).
    """
    out = {}
    for part in _parts():
        snaps = _part(results, part)
        coords, explained = project(results, part, components)
        R, S, P = snaps.shape
        pca = PCA(n_components=components, random_state=0).fit(snaps.reshape(R * S, P))
        moves = snaps[:, -1] - snaps[:, 0]
        moves /= np.linalg.norm(moves, axis=1, keepdims=True)
        align = np.abs(pca.components_ @ moves.T)  # (components, R)
        full, plane = _pairwise(snaps[:, 0]).mean(), _pairwise(coords[:, 0]).mean()
        out[part] = {"explained": explained, "init_init_full": float(full),
                     "init_init_in_plane": float(plane),
                     "best_run": align.argmax(1), "best_cos": align.max(1)}
    return out


def _parts() -> dict[str, str]:
    """The two parameter sets each view is computed for, and their names in tables."""
    return {"whole": "whole model", "first_layer": "first layer"}


def _pct(value: float) -> float:
    return 100 * float(value)


def plane_table(results: dict):
    """The shared PCA plane of each figure: one row per quantity, one column per part.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import table

    view = plane_view(results)
    rows = [
        ("PC1, % of the variance of all snapshots", lambda v: _pct(v["explained"][0])),
        ("PC2, % of the variance", lambda v: _pct(v["explained"][1])),
        ("distance between two starts (mean over pairs)", lambda v: v["init_init_full"]),
        ("the same, within the PC1–PC2 plane", lambda v: v["init_init_in_plane"]),
        ("share of that distance within the plane",
         lambda v: v["init_init_in_plane"] / v["init_init_full"]),
        ("run whose move is best aligned with PC1", lambda v: f"run {v['best_run'][0]}"),
        ("its |cos| with PC1", lambda v: float(v["best_cos"][0])),
        ("run best aligned with PC2", lambda v: f"run {v['best_run'][1]}"),
        ("its |cos| with PC2", lambda v: float(v["best_cos"][1])),
    ]
    return table([{"quantity": name, **{_parts()[p]: f(view[p]) for p in _parts()}}
                  for name, f in rows])


def accuracy_table(results: dict):
    """Training accuracy (%) at each snapshot: mean ± 95% t interval over runs, and the
    lowest and highest run.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import ci, table

    acc = 100 * np.asarray(results["snapshot_train_acc"])  # (R, S)
    return table({"epoch": int(e), "training accuracy %, mean ± 95% t over runs": ci(acc[:, s]),
                  "lowest run": float(acc[:, s].min()), "highest run": float(acc[:, s].max())}
                 for s, e in enumerate(results["snapshot_epochs"]))


def explained_variance(results: dict, components: int = 8):
    """Per part: the % of the variance of all snapshots along PCs 1..``components`` and
    their sum.

    Args:
        results: what :func:`run` returns.
        components: how many principal components to fit.

    Returns:
        A display DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import table

    rows = []
    for part, name in _parts().items():
        _, ev = project(results, part, components)
        rows.append({"part": name, **{f"PC{k + 1}": _pct(v) for k, v in enumerate(ev)},
                     f"PC1–{components}": _pct(ev.sum())})
    return table(rows, index="part")


def _mean_range(values: np.ndarray) -> str:
    from hw1.report import num

    return f"{num(values.mean())} ({num(values.min())}–{num(values.max())})"


def _path_shape(results: dict, part: str, components: int = 7) -> dict[str, np.ndarray]:
    """How straight each run's path is, and how much of its move the joint PCs hold.

    Args:
        results: what :func:`run` returns.
        part: ``"whole"`` or ``"first_layer"``.
        components: how many joint principal components span the subspace.

    Returns:
        Per run ``(R,)``: ``straightness``, the summed length of the steps between snapshots
        over the distance from start to end (1: a straight path), and ``move_in_pcs``, the
        share of ‖θ_end − θ_0‖² inside the span of the first ``components`` joint PCs.
    """
    snaps = _part(results, part)
    R, S, P = snaps.shape
    steps = np.linalg.norm(np.diff(snaps, axis=1), axis=2).sum(1)
    moves = snaps[:, -1] - snaps[:, 0]
    pca = PCA(n_components=min(components, R * S, P), random_state=0).fit(
        snaps.reshape(R * S, P))
    inside = np.sum((moves @ pca.components_.T) ** 2, axis=1)
    travel2 = np.sum(moves**2, axis=1)
    return {"straightness": steps / np.sqrt(travel2), "move_in_pcs": inside / travel2}


def geometry_table(results: dict):
    """:func:`geometry` for the whole model and the first layer, one row per quantity:
    per-run quantities as mean ± 95% t interval over runs, per-pair ones as mean (min–max
    over pairs, which share runs, so no interval is given).

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import ci, table

    geo = {p: {**geometry(results, p), **_path_shape(results, p)} for p in _parts()}
    rows = [
        ("‖θ_0‖, norm at the start", lambda g: ci(g["norm_init"])),
        ("‖θ_end‖, norm at the end", lambda g: ci(g["norm_end"])),
        ("distance start → end of a run", lambda g: ci(g["travel"])),
        ("distance between two starts, mean (range)", lambda g: _mean_range(g["init_init"])),
        ("distance between two ends, mean (range)", lambda g: _mean_range(g["end_end"])),
        ("two starts' distance / mean ‖θ_0‖", lambda g: g["init_init"].mean()
         / g["norm_init"].mean()),
        ("two ends' distance / mean ‖θ_end‖", lambda g: g["end_end"].mean()
         / g["norm_end"].mean()),
        ("start → end / two starts' distance", lambda g: g["travel"].mean()
         / g["init_init"].mean()),
        ("|cos| of two runs' moves, mean (range)", lambda g: _mean_range(g["move_cos"])),
        ("|cos| of two random directions, √(2/(πP))", lambda g: g["random_mean_abs_cos"]),
        ("mean |cos| of two moves ÷ √(2/(πP))",
         lambda g: g["move_cos"].mean() / g["random_mean_abs_cos"]),
        ("path length / distance start → end", lambda g: ci(g["straightness"])),
        ("share of a move's squared length in PCs 1–7", lambda g: ci(g["move_in_pcs"])),
    ]
    return table([{"quantity": name, **{_parts()[p]: f(geo[p]) for p in _parts()}}
                  for name, f in rows])


def _snapshot_model(flat: np.ndarray, cfg: Config, in_features: int,
                    num_classes: int) -> torch.nn.Sequential:
    """The MLP whose parameters are the flat snapshot ``flat`` ``(P,)`` (eval mode)."""
    model = mlp(in_features, list(cfg.widths), num_classes)
    torch.nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32),
                                        model.parameters())
    return model.eval()


def _disjoint_pairs(runs: int) -> list[tuple[int, int]]:
    """Pairs (0, 1), (2, 3), ...: no run in two pairs, so the pairs are independent."""
    return [(a, a + 1) for a in range(0, runs - 1, 2)]


@torch.no_grad()
def function_space(results: dict, cfg: Config) -> dict[str, object]:
    """Each snapshot's predictions on the test subset, and, at the end of training, every
    pair of runs before and after permutation alignment of the second run's hidden units to
    the first's (weight matching, Ainsworth et al., 2023): parameter distance, and the test
    loss and accuracy at the midpoint of the straight line between the two.

    Args:
        results: what :func:`run` returns.
        cfg: its settings (the test subset is reloaded: ``cfg.n_test`` images).

    Returns:
        ``pred`` ``(R, S, n_test)`` predicted labels, ``labels`` ``(n_test,)``, ``pairs``
        ``[(a, b)]`` (all pairs a < b), and per pair ``(pairs,)`` arrays ``distance``,
        ``aligned_distance``, ``mid_loss``, ``aligned_mid_loss``, ``mid_acc``,
        ``aligned_mid_acc``, ``end_loss`` (mean test loss of the two ends), ``end_acc`` and
        ``aligned_changed`` (test images whose prediction the aligned copy changes: 0 if the
        alignment keeps the function); ``aligned_mid_correct`` ``(pairs, n_test)`` bool, the
        aligned midpoint's correctness per test image.
    """
    from hw1.alignment import match_hidden_units, permute_hidden_units

    data = load_subset(cfg.dataset, cfg.n_train, cfg.n_test)
    x, labels = data.x_test, data.y_test
    in_features, k = int(np.prod(data.input_shape)), data.num_classes
    snaps = np.asarray(results["snapshots"])  # (R, S, P)
    R, S, _ = snaps.shape
    pred = np.stack([np.stack([_snapshot_model(snaps[r, s], cfg, in_features, k)(x)
                               .argmax(1).numpy() for s in range(S)]) for r in range(R)])
    ends = [_snapshot_model(snaps[r, -1], cfg, in_features, k) for r in range(R)]

    def flat(model: torch.nn.Module) -> torch.Tensor:
        return torch.nn.utils.parameters_to_vector(model.parameters()).detach()

    def loss_acc(vector: torch.Tensor) -> tuple[float, float, np.ndarray]:
        model = mlp(in_features, list(cfg.widths), k)
        torch.nn.utils.vector_to_parameters(vector, model.parameters())
        out = model.eval()(x)
        correct = (out.argmax(1) == labels).numpy()
        return (float(torch.nn.functional.cross_entropy(out, labels)), float(correct.mean()),
                correct)

    pairs = [(a, b) for a in range(R) for b in range(a + 1, R)]
    rows: dict[str, list] = {key: [] for key in (
        "distance", "aligned_distance", "mid_loss", "aligned_mid_loss", "mid_acc",
        "aligned_mid_acc", "end_loss", "end_acc", "aligned_changed", "aligned_mid_correct")}
    for a, b in pairs:
        aligned = permute_hidden_units(ends[b], match_hidden_units(ends[a], ends[b]))
        ta, tb, tc = flat(ends[a]), flat(ends[b]), flat(aligned)
        ends_la = [loss_acc(t) for t in (ta, tb)]
        mid, mid_aligned = loss_acc((ta + tb) / 2), loss_acc((ta + tc) / 2)
        for key, value in (("distance", float((ta - tb).norm())),
                           ("aligned_distance", float((ta - tc).norm())),
                           ("mid_loss", mid[0]), ("aligned_mid_loss", mid_aligned[0]),
                           ("mid_acc", mid[1]), ("aligned_mid_acc", mid_aligned[1]),
                           ("end_loss", (ends_la[0][0] + ends_la[1][0]) / 2),
                           ("end_acc", (ends_la[0][1] + ends_la[1][1]) / 2),
                           ("aligned_changed",
                            int((aligned(x).argmax(1) != ends[b](x).argmax(1)).sum())),
                           ("aligned_mid_correct", mid_aligned[2])):
            rows[key].append(value)
    return {"pred": pred, "labels": labels.numpy(), "pairs": pairs,
            **{key: np.asarray(v) for key, v in rows.items()}}


def _pair_disagreement(pred: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Share of test images two runs label differently, per pair: ``(pairs,)``."""
    return np.asarray([np.mean(pred[a] != pred[b]) for a, b in pairs])


def function_space_table(results: dict, fs: dict):
    """Per snapshot epoch: test accuracy over runs, the disagreement of two runs (share of
    test images they label differently) over all pairs and over the disjoint pairs (0, 1),
    (2, 3), ... (independent, so with a t interval), and disagreement ÷ (error_a + error_b)
    (at most 1, reached when the two runs never err on the same image) beside the same ratio
    expected if the runs erred independently given the class
    (:func:`independent_disagreement`); and how far, relative to its start → end distance,
    each run's snapshot is from its end point.

    Args:
        results: what :func:`run` returns.
        fs: what :func:`function_space` returns.

    Returns:
        A display DataFrame, one row per snapshot epoch.
    """
    from hw1.report import ci, table

    pred, labels = fs["pred"], fs["labels"]
    errors = np.mean(pred != labels, axis=2)  # (R, S)
    snaps = _part(results, "whole")
    to_end = np.linalg.norm(snaps - snaps[:, -1:], axis=2)  # (R, S)
    share = to_end / to_end[:, :1]
    pairs, disjoint = fs["pairs"], _disjoint_pairs(len(pred))
    rows = []
    for s, epoch in enumerate(results["snapshot_epochs"]):
        dis = _pair_disagreement(pred[:, s], pairs)
        bound = np.asarray([errors[a, s] + errors[b, s] for a, b in pairs])
        independent = np.asarray([independent_disagreement(pred[a, s], pred[b, s], labels)
                                  for a, b in pairs])
        rows.append({"epoch": epoch, "test acc. %": ci(100 * (1 - errors[:, s])),
                     "disagreement, all pairs": _mean_range(dis),
                     "disagreement, disjoint pairs": ci(_pair_disagreement(pred[:, s], disjoint)),
                     "÷ (err_a + err_b)": float(np.mean(dis / bound)),
                     "independent ÷ (err_a + err_b)": float(np.mean(independent / bound)),
                     "to end ÷ start → end": _mean_range(share[:, s])})
    return table(rows)


def independent_disagreement(pred_a: np.ndarray, pred_b: np.ndarray,
                             labels: np.ndarray) -> float:
    """The disagreement two classifiers would have if their predictions were independent
    given the true class, each keeping its own confusion matrix on these images:
    1 − Σ_y P(y) Σ_k P_a(k | y)·P_b(k | y) (so their error rates, and which wrong labels they
    give for each class, stay as measured; only which images they err on is made
    independent).

    Args:
        pred_a, pred_b: ``(N,)`` predicted labels of the two classifiers.
        labels: ``(N,)`` true labels.

    Returns:
        The expected share of images the two label differently.
    """
    pred_a, pred_b, labels = (np.asarray(v) for v in (pred_a, pred_b, labels))
    if not pred_a.shape == pred_b.shape == labels.shape or pred_a.ndim != 1:
        raise ValueError(f"need three (N,) arrays, got shapes {pred_a.shape}, {pred_b.shape}, "
                         f"{labels.shape}")
    k = int(max(pred_a.max(), pred_b.max(), labels.max())) + 1
    agree = 0.0
    for y in np.unique(labels):
        rows = labels == y
        pa = np.bincount(pred_a[rows], minlength=k) / rows.sum()
        pb = np.bincount(pred_b[rows], minlength=k) / rows.sum()
        agree += rows.mean() * float(pa @ pb)
    return 1.0 - agree


def alignment_table(results: dict, fs: dict):
    """At the end of training: two runs' parameter distance before and after aligning the
    second's hidden units to the first's, and the test loss and accuracy at the midpoint of
    the straight line between them (the ends' mean beside it). All pairs as mean (range);
    the disjoint pairs (0, 1), (2, 3), ... are independent, so their paired aligned ÷
    unaligned ratio gets a 95% t interval (the one comparison this table is for).

    Args:
        results: what :func:`run` returns.
        fs: what :func:`function_space` returns.

    Returns:
        A display DataFrame, one row per quantity.
    """
    from hw1.report import ci, table

    pairs = fs["pairs"]
    chosen = [pairs.index(p) for p in _disjoint_pairs(len(fs["pred"]))]
    ratio = fs["aligned_distance"] / fs["distance"]
    norm = np.linalg.norm(_part(results, "whole")[:, -1], axis=1).mean()
    rows = [("distance between two ends", fs["distance"]),
            ("the same after alignment", fs["aligned_distance"]),
            ("aligned ÷ unaligned distance", ratio),
            ("aligned distance ÷ mean ‖θ_end‖", fs["aligned_distance"] / norm),
            ("test loss, mean of the two ends", fs["end_loss"]),
            ("test loss at the midpoint, unaligned", fs["mid_loss"]),
            ("test loss at the midpoint, aligned", fs["aligned_mid_loss"]),
            ("test accuracy %, mean of the two ends", 100 * fs["end_acc"]),
            ("test accuracy % at the midpoint, unaligned", 100 * fs["mid_acc"]),
            ("test accuracy % at the midpoint, aligned", 100 * fs["aligned_mid_acc"]),
            ("test images whose label the alignment changes", fs["aligned_changed"])]
    return table([{"quantity": name, f"all {len(pairs)} pairs, mean (range)": _mean_range(v),
                   f"{len(chosen)} disjoint pairs, mean ± 95% t": ci(v[chosen])}
                  for name, v in rows])


def midpoint_test_table(fs: dict):
    """Is the aligned midpoint less accurate than the two ends, paired over test images? For
    each disjoint pair (0, 1), (2, 3), ...: the ends' and the aligned midpoint's test
    accuracy, and the exact McNemar test (:func:`hw1.intervals.mcnemar`) of the midpoint
    against each end (b: images the end gets right and the midpoint wrong; c: the reverse),
    p Holm-corrected over the tests of these pairs (:func:`hw1.intervals.holm`). The last row
    counts, over all pairs (which share runs), those whose aligned midpoint has a higher test
    loss than the ends' mean, a lower accuracy than both ends, and a McNemar p < 0.05 against
    both ends after Holm over all pairs' tests.

    Args:
        fs: what :func:`function_space` returns.

    Returns:
        A display DataFrame, one row per disjoint pair and a last row over all pairs.
    """
    from hw1.intervals import holm, mcnemar
    from hw1.report import num, table

    pairs, labels = fs["pairs"], fs["labels"]
    correct = fs["pred"][:, -1] == labels  # (R, N) at the end of training
    mid = np.asarray(fs["aligned_mid_correct"], dtype=bool)  # (pairs, N)
    tests = [[mcnemar(correct[a], mid[i]), mcnemar(correct[b], mid[i])]
             for i, (a, b) in enumerate(pairs)]
    chosen = [pairs.index(p) for p in _disjoint_pairs(len(correct))]
    p_chosen = holm([t["p"] for i in chosen for t in tests[i]]).reshape(len(chosen), 2)
    p_all = holm([t["p"] for pair in tests for t in pair]).reshape(len(pairs), 2)
    rows = []
    for i, p in zip(chosen, p_chosen, strict=True):
        a, b = pairs[i]
        ta, tb = tests[i]
        rows.append({"pair": f"({a}, {b})",
                     "ends' test acc. %": f"{num(100 * correct[a].mean())}, "
                                          f"{num(100 * correct[b].mean())}",
                     "aligned midpoint %": 100 * mid[i].mean(),
                     "vs end a: b / c": f"{ta['b']} / {ta['c']}", "p, Holm (a)": p[0],
                     "vs end b: b / c": f"{tb['b']} / {tb['c']}", "p, Holm (b)": p[1]})
    above = int(np.sum(fs["aligned_mid_loss"] > fs["end_loss"]))
    below = int(sum(mid[i].mean() < min(correct[a].mean(), correct[b].mean())
                    for i, (a, b) in enumerate(pairs)))
    significant = int(np.sum(np.all(p_all < 0.05, axis=1)))
    rows.append({"pair": f"all {len(pairs)} pairs",
                 "ends' test acc. %": f"midpoint loss > ends' mean: {above}",
                 "aligned midpoint %": f"below both ends: {below}",
                 "vs end a: b / c": f"p < 0.05 vs both ends (Holm over {2 * len(pairs)}): "
                                    f"{significant}",
                 "p, Holm (a)": "", "vs end b: b / c": "", "p, Holm (b)": ""})
    return table(rows)
