"""The compute path of the minimal-ratio experiment: settings, the critical-point search, the
float64 refinements and every per-run measurement (spectra, the Gauss–Newton split, the Weyl
bound, gradient flatness, linear regions, dead units)."""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from hw1.config import ExperimentConfig
from hw1.critical import find_critical_points, refine_critical_point
from hw1.data import TARGET_FUNCTIONS, target_function
from hw1.metrics import dead_relu_parameters, gauss_newton_split, linear_regions
from hw1.models import ACTIVATIONS, count_params, mlp
from hw1.progress import progress
from hw1.store import RunStore

#: the two tasks: the 1-D fit of the homework and the 2-D-input control
TASKS = ("main", "control")


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the minimal-ratio experiment.

    Attributes:
        function, n_points: the 1-D training task (full-batch).
        widths: hidden widths of the small MLP (hundreds of parameters).
        activations: hidden activations to compare (ReLU; tanh as the control without dead
            units or continuous rescaling symmetries).
        runs: independent runs (seeds 0..runs-1) per activation, vectorized across runs.
        phase1_steps, phase1_lr: Adam on the MSE.
        phase2_steps, phase2_lr: Adam on ‖∇L‖², at most this many steps.
        threshold: gradient norm below which a run counts as at a critical point (float32).
        refine_tol, refine_max_iter: float64 Levenberg–Marquardt refinement of every end point
            (:func:`hw1.critical.refine_critical_point`) towards ‖∇L‖ <= refine_tol.
        deep_runs, deep_tol, deep_max_iter: the first ``deep_runs`` runs of every activation
            of the 1-D task are refined further, from their refined point, towards ‖∇L‖ <= deep_tol.
        control_side, control_runs: the 2-D-input control task, the radial
            ``sin(5πr)/(5πr)`` (``r = ‖x‖``) on a ``control_side × control_side`` grid over
            [−1, 1]², with ``control_runs`` runs per activation (same widths and schedule).
    """

    name: ClassVar[str] = "minimal_ratio"
    positive: ClassVar[tuple[str, ...]] = ("n_points", "widths", "runs", "phase1_steps",
                                           "phase1_lr", "phase2_lr", "threshold", "refine_tol",
                                           "refine_max_iter", "deep_tol", "deep_max_iter",
                                           "control_side")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"function": tuple(TARGET_FUNCTIONS),
                                                     "activations": tuple(ACTIVATIONS)}
    function: str = "sinc"
    n_points: int = 256
    widths: tuple[int, ...] = (16, 16)
    activations: tuple[str, ...] = ("relu", "tanh")
    runs: int = 50
    phase1_steps: int = 1500
    phase1_lr: float = 1e-2
    phase2_steps: int = 1500
    phase2_lr: float = 1e-3
    threshold: float = 1e-3
    refine_tol: float = 1e-6
    refine_max_iter: int = 40
    deep_runs: int = 10
    deep_tol: float = 1e-10
    deep_max_iter: int = 30
    control_side: int = 16
    control_runs: int = 20


Config.register(full=Config(), smoke=Config(n_points=48, widths=(5, 5), runs=3, phase1_steps=15,
                                            phase2_steps=15, refine_max_iter=3, deep_runs=1,
                                            deep_max_iter=3, control_side=5, control_runs=3))


def control_task(side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D control data: ``side²`` grid points of [−1, 1]² and ``sin(5πr)/(5πr)``,
    ``r = ‖x‖``.

    Returns:
        ``x`` ``(side², 2)`` and ``y`` ``(side², 1)``, float32.
    """
    if side < 2:
        raise ValueError(f"control_side must be >= 2, got {side}")
    g = torch.linspace(-1.0, 1.0, side)
    x = torch.cartesian_prod(g, g)
    return x, torch.sinc(5.0 * x.norm(dim=1, keepdim=True))


def task_data(cfg: Config, task: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``x, y`` ``(N, d)``, ``(N, 1)`` of a task and its description."""
    if task == "main":
        target = target_function(cfg.function)
        x, y = target.sample(cfg.n_points)
        return x, y, f"{cfg.n_points} points of {target.formula}"
    if task == "control":
        x, y = control_task(cfg.control_side)
        return x, y, (f"{cfg.control_side}×{cfg.control_side} grid of sin(5πr)/(5πr), "
                      "r = ‖x‖, on [−1, 1]²")
    raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")


def spectral_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """``‖a − b‖₂`` of two symmetric matrices: the largest |eigenvalue| of their difference.

    By Weyl's inequality, ``|λ_k(a) − λ_k(b)| <= ‖a − b‖₂`` for every k (eigenvalues of each
    sorted ascending), so no eigenvalue of ``b`` within this distance of zero has a sign that
    ``a`` confirms.
    """
    d = a - b
    return float(torch.linalg.eigvalsh((d + d.T) / 2).abs().max())


@torch.no_grad()
def distinct_patterns(model: nn.Module, x: torch.Tensor) -> int:
    """Number of distinct ReLU activation patterns (on/off of every unit) over the inputs
    ``x`` ``(N, d)``: the linear regions of the network that hold at least one input.

    Inputs sharing a pattern share one affine map ``x ↦ a·x + b``, so the Jacobian rows of
    the outputs at those inputs span at most ``d + 1`` dimensions.
    """
    patterns: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda mod, inp, out: patterns.append(out > 0))
               for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model(x.to(next(model.parameters()).dtype))
    finally:
        for h in handles:
            h.remove()
    return int(torch.unique(torch.cat(patterns, dim=1), dim=0).shape[0])


def measure_point(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """The Hessian of the MSE at the model's parameters, split as ``H = G + R``
    (:func:`hw1.metrics.gauss_newton_split`), with what the analysis needs from it.

    Returns:
        dict with ``H`` ``(P, P)``; eigenvalues ``eig`` (of H), ``eig_gn`` (of G), ``eig_res``
        (of R), each ``(P,)`` ascending numpy; ``g_spectrum`` ``(P,)``: the squared
        components of the gradient g on H's eigenvectors, in ``eig``'s order; ``loss``,
        ``grad_norm``, ``hg_ratio`` (``‖Hg‖/‖g‖``), ``rank_gn`` (numerical rank of the
        Jacobian, = rank G), ``res_lam_min_null`` (the most negative eigenvalue of R
        restricted to the null space of G, 0 when that space is empty), all float64.
    """
    s = gauss_newton_split(model, x, y)
    G, R = s["gauss_newton"], s["residual_part"]
    H = G + R
    g = s["gradient"]
    eig_gn, vec_gn = torch.linalg.eigh(G)
    null = vec_gn[:, eig_gn <= G.shape[0] * torch.finfo(torch.float64).eps * eig_gn.abs().max()]
    res_null = (float(torch.linalg.eigvalsh(null.T @ R @ null).min()) if null.shape[1]
                else 0.0)
    g_norm = float(g.norm())
    eig, vec = torch.linalg.eigh(H)
    return {"H": H, "eig": eig.numpy(), "g_spectrum": ((vec.T @ g) ** 2).numpy(),
            "eig_gn": eig_gn.numpy(),
            "eig_res": torch.linalg.eigvalsh(R).numpy(),
            "loss": float((s["residual"] ** 2).mean()), "grad_norm": g_norm,
            "hg_ratio": float((H @ g).norm()) / g_norm if g_norm > 0 else math.nan,
            "rank_gn": int(torch.linalg.matrix_rank(s["jacobian"])),
            "res_lam_min_null": res_null}


def _fit_summary(fit: dict) -> dict:
    return {k: fit[k] for k in ("loss", "grad_norm", "converged", "reason", "iterations",
                                "accepted", "distance")}


def _compute(cfg: Config, task: str, activation: str) -> tuple[dict, str, dict]:
    x, y, description = task_data(cfg, task)
    runs = cfg.runs if task == "main" else cfg.control_runs
    models = []
    for seed in range(runs):
        torch.manual_seed(seed)
        models.append(mlp(x.shape[1], list(cfg.widths), 1, activation=activation))
    loss_fn = nn.functional.mse_loss
    res = find_critical_points(models, loss_fn, x, y, phase1_steps=cfg.phase1_steps,
                               phase1_lr=cfg.phase1_lr, phase2_steps=cfg.phase2_steps,
                               phase2_lr=cfg.phase2_lr, threshold=cfg.threshold,
                               desc=f"{runs} {activation} runs ({task})")
    x64, y64 = x.double(), y.double()
    P = count_params(models[0])
    arrays: dict[str, list] = {k: [] for k in ("eigenvalues", "refined_eigenvalues",
                                               "gn_eigenvalues", "residual_eigenvalues",
                                               "deep_eigenvalues", "gradient_spectrum",
                                               "deep_gradient_spectrum")}
    end_points, refined, deep, dead = [], [], [], []
    for i, model in enumerate(progress(res.models, desc=f"{activation} ({task}): refine + "
                                       "spectra", leave=False)):
        end = measure_point(model, x, y)
        fit = refine_critical_point(model, loss_fn, x, y, tol=cfg.refine_tol,
                                    max_iter=cfg.refine_max_iter)
        ref = measure_point(fit["model"], x64, y64)
        arrays["eigenvalues"].append(end["eig"])
        arrays["refined_eigenvalues"].append(ref["eig"])
        arrays["gn_eigenvalues"].append(ref["eig_gn"])
        arrays["residual_eigenvalues"].append(ref["eig_res"])
        arrays["gradient_spectrum"].append(end["g_spectrum"])
        end_points.append({"grad_norm": end["grad_norm"], "hg_ratio": end["hg_ratio"],
                           "loss": end["loss"]})
        row = {**_fit_summary(fit), "weyl": spectral_distance(end["H"], ref["H"]),
               "hg_ratio": ref["hg_ratio"], "rank_gn": ref["rank_gn"],
               "res_lam_min_null": ref["res_lam_min_null"]}
        if activation == "relu":
            row["regions"] = (linear_regions(fit["model"], x64) if x.shape[1] == 1
                              else distinct_patterns(fit["model"], x64))
            d = dead_relu_parameters(fit["model"], x64)
            dead.append({k: d[k] for k in ("dead_parameters", "dead_units", "alive_units")})
        refined.append(row)
        if task == "main" and i < cfg.deep_runs:
            more = refine_critical_point(fit["model"], loss_fn, x64, y64, tol=cfg.deep_tol,
                                         max_iter=cfg.deep_max_iter)
            point = measure_point(more["model"], x64, y64)
            arrays["deep_eigenvalues"].append(point["eig"])
            arrays["deep_gradient_spectrum"].append(point["g_spectrum"])
            deep.append({**_fit_summary(more), "weyl": spectral_distance(ref["H"], point["H"]),
                         "hg_ratio": point["hg_ratio"]})
    result = {"task": task, "activation": activation, "input_dim": int(x.shape[1]),
              "n_points": int(x.shape[0]), "loss": res.loss, "grad_norm": res.grad_norm,
              "converged": res.converged, "phase2_steps": res.phase2_steps, "end": end_points,
              "refined": refined, "deep": deep, "dead": dead, "n_params": P}
    return result, description, {k: np.stack(v) if v else np.zeros((0, P))
                                 for k, v in arrays.items()}


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    return _compute(cfg, spec["task"], spec["activation"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict[str, dict]]:
    """Run (or load) every task's and activation's runs.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (task, activation) searches (one task each); None: here.

    Returns:
        ``results[task][activation]`` for task ``"main"`` (the 1-D fit) and ``"control"``
        (the 2-D input): per-run lists ``loss``, ``grad_norm``, ``converged`` (the float32
        search); ``end`` (per run at the float32 end point, in float64: ``grad_norm``,
        ``hg_ratio`` = ‖Hg‖/‖g‖, ``loss``); ``refined`` (per run: ``loss``, ``grad_norm``,
        ``converged``, ``reason``, ``iterations``, ``accepted``, ``distance``, ``weyl`` =
        ‖H_end − H_refined‖₂, ``hg_ratio``, ``rank_gn`` = rank G, ``res_lam_min_null``, and
        for ReLU ``regions``); ``deep`` (the first ``deep_runs`` runs refined further: the
        same fit fields, ``weyl`` = ‖H_refined − H_deep‖₂, ``hg_ratio``); ``dead`` (ReLU:
        ``dead_parameters``, ``dead_units``, ``alive_units``); arrays ``eigenvalues`` (end
        point), ``refined_eigenvalues``, ``gn_eigenvalues``, ``residual_eigenvalues``
        ``(R, P)``, ``gradient_spectrum`` ``(R, P)`` (squared components of the end point's
        gradient on its Hessian's eigenvectors, in ``eigenvalues``' order), and
        ``deep_eigenvalues``, ``deep_gradient_spectrum`` ``(deep_runs, P)`` (1-D task only).
    """
    shared = {k: v for k, v in cfg.to_dict().items() if k != "activations"}
    keys = [(t, a) for t in TASKS for a in cfg.activations]
    items = [({**shared, "task": t, "activation": a},
              list(range(cfg.runs if t == "main" else cfg.control_runs))) for t, a in keys]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    out: dict[str, dict[str, dict]] = {t: {} for t in TASKS}
    for (t, a), s in zip(keys, runs, strict=True):
        out[t][a] = {**s.result, **s.arrays}
    return out
