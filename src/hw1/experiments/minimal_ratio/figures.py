"""Figures of the minimal-ratio notebook, saved through :func:`hw1.plotting.save_figure`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw1.experiments.minimal_ratio.analysis import (
    TAUS,
    _each,
    label,
    ratio_at_weyl,
    ratio_vs_cutoff,
    weyl_levels,
)
from hw1.plotting import save_figure

COLORS = {"ReLU": "tab:blue", "tanh": "tab:orange", "ReLU, 2-D": "tab:green",
          "tanh, 2-D": "tab:red"}


def figure_ratio_vs_cutoff(results: dict) -> plt.Figure:
    """The cutoff sweep of the 1-D task: median minimal ratio per relative cutoff at the
    float32 end points (dashed) and the refined points (solid, lowest–highest band), with
    the per-run Weyl bounds δ/max|λ| (their lowest–highest range shaded) and the rounding
    level. Saved as ``minimal_ratio_vs_tolerance``."""
    lc = r"$\lambda_\mathrm{cut}$"
    main = results["main"]
    P = next(iter(main.values()))["refined_eigenvalues"].shape[1]
    floor = P * np.finfo(np.float64).eps
    fig, ax = plt.subplots(figsize=(7.4, 4.6))
    positive = TAUS > 0
    for act, r in main.items():
        name = label("main", act)
        for eig, style, what in ((r["eigenvalues"], "--", "float32 end points"),
                                 (r["refined_eigenvalues"], "-", "refined points")):
            ratios = ratio_vs_cutoff(eig)
            ax.plot(TAUS[positive], np.median(ratios, 0)[positive], style, color=COLORS[name],
                    label=f"{name}, {what}: median")
            if style == "-":
                ax.fill_between(TAUS[positive], ratios.min(0)[positive],
                                ratios.max(0)[positive], color=COLORS[name], alpha=0.2, lw=0)
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        rel = weyl_levels(r) / np.abs(eig).max(1)
        ax.axvspan(rel.min(), rel.max(), color=COLORS[name], alpha=0.08, lw=0)
        ax.plot([np.median(rel)], [np.median(ratio_at_weyl(r))], "D", color=COLORS[name],
                mec="black", label=f"{name}: at the per-run Weyl bound δ (medians; shade: "
                                   "δ/max|λ| range)")
    ax.axvspan(1e-16, floor, color="grey", alpha=0.15, lw=0,
               label=f"below the rounding level P·eps = {floor:.0e}")
    ax.set(xscale="log", ylim=(0, 0.6), xlim=(1e-16, 1e-1),
           xlabel=f"relative cutoff {lc}: |λ| ≤ {lc}·max|λ| counts as zero",
           ylabel=f"minimal ratio (fraction of λ > {lc}·max|λ|)",
           title="Minimal ratio vs cutoff, 1-D task (band: lowest to highest refined run)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9)
    save_figure(fig, "minimal_ratio_vs_tolerance")
    return fig


def figure_curvature_sources(results: dict) -> plt.Figure:
    """Four panels: (a) rank of G against the linear-region bound (ReLU); (b) |λ_min(H)|
    against ‖R‖₂; (c) the paired within-run changes of log|λ_min| and log‖∇L‖ from the end
    point to the refined point; (d) ‖Hg‖/‖g‖ against the even-spread reference at the end
    points (circles), the refined points (triangles) and the further-refined points
    (crosses). Saved as ``minimal_ratio_curvature_sources``."""
    fig, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(11.4, 9.4))
    for name, act, r in _each(results):
        color = COLORS.get(name)
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        rank = np.array([f["rank_gn"] for f in r["refined"]])
        if act == "relu":
            bound = (r["input_dim"] + 1) * np.array([f["regions"] for f in r["refined"]])
            a.scatter(bound, rank, s=14, alpha=0.7, color=color, label=name)
        lam_min = np.clip(-eig.min(1), 1e-300, None)
        r_norm = np.abs(np.asarray(r["residual_eigenvalues"])).max(1)
        b.scatter(r_norm, lam_min, s=14, alpha=0.7, color=color, label=name)
        e0 = np.asarray(r["eigenvalues"]).min(1)
        g0 = np.array([f["grad_norm"] for f in r["end"]])
        g1 = np.array([f["grad_norm"] for f in r["refined"]])
        use = (e0 < 0) & (eig.min(1) < 0)
        c.scatter(np.log10(g1 / g0)[use], np.log10(eig.min(1) / e0)[use], s=14, alpha=0.7,
                  color=color, label=name)
        points = [("eigenvalues", "end", "o", 14, "end"),
                  ("refined_eigenvalues", "refined", "^", 16, "refined")]
        if r["deep"]:
            points.append(("deep_eigenvalues", "deep", "x", 30, "further refined"))
        for key, fits, marker, size, what in points:
            e = np.asarray(r[key], dtype=float)
            scale = np.abs(e).max(1)
            hg = np.array([f["hg_ratio"] for f in r[fits]]) / scale
            even = np.sqrt((e ** 2).mean(1)) / scale
            d.scatter(even, hg, s=size, alpha=0.7, color=color, marker=marker,
                      label=f"{name}, {what}")
    lim = np.array(a.get_xlim())
    a.plot(lim, lim, color="grey", lw=0.8, label="rank G = bound")
    a.set(xlabel="(d+1) × linear regions holding data points", ylabel="rank G (= rank J)",
          title="(a) Gauss–Newton rank vs the linear-region bound")
    a.legend(fontsize=9)
    b.set(xscale="log", yscale="log")
    lo, hi = b.get_xlim()
    b.plot([lo, hi], [lo, hi], color="grey", lw=0.8,
           label="|λ_min(H)| = ‖R‖₂ (Weyl: never above)")
    b.set(xlim=(lo, hi), xlabel="‖R‖₂ (residual part)",
          ylabel="|most negative eigenvalue of H|",
          title="(b) Negative curvature vs the residual part\n(refined points)")
    b.legend(fontsize=9)
    c.axhline(0, color="grey", lw=0.8)
    c.axvline(0, color="grey", lw=0.8)
    c.set(xlabel="Δ log10 ‖∇L‖ (same run)", ylabel="Δ log10 |λ_min|",
          title="(c) Paired within-run changes, end → refined")
    c.legend(fontsize=9)
    d.set(xscale="log", yscale="log")
    lo, hi = d.get_xlim()
    d.plot([lo, hi], [lo, hi], color="grey", lw=0.8, label="= even spread")
    bottom, top = d.get_ylim()
    d.set_ylim(bottom / 3e3, top)  # room for the legend below the points
    d.set(xlim=(lo, hi), xlabel="even spread √(mean λ²) / max|λ|",
          ylabel="‖Hg‖ / (‖g‖·max|λ|)",
          title="(d) Gradient flatness: end, refined, further refined")
    d.legend(fontsize=9, ncol=2, loc="lower left")
    fig.tight_layout()
    save_figure(fig, "minimal_ratio_curvature_sources")
    return fig


def figure_ratio_vs_loss(results: dict) -> plt.Figure:
    """Minimal ratio at the per-run Weyl bound against the loss, one panel per task; ReLU
    points coloured by their number of alive units. Saved as ``minimal_ratio_vs_loss``."""
    tasks = list(results)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.6 * len(tasks), 4.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for act, r in results[task].items():
            name = label(task, act)
            P = np.asarray(r["refined_eigenvalues"]).shape[1]
            ratio = ratio_at_weyl(r)
            loss = np.array([f["loss"] for f in r["refined"]])
            if act == "relu":
                alive = np.array([d["alive_units"] for d in r["dead"]])
                sc = ax.scatter(ratio, loss, c=alive, cmap="viridis", s=18, marker="o",
                                label=f"{name} (colour: alive units)")
                fig.colorbar(sc, ax=ax, label="alive hidden units (ReLU)")
            else:
                ax.scatter(ratio, loss, s=22, marker="x", color=COLORS.get(name), label=name)
        ax.set(xlabel=f"minimal ratio at the per-run Weyl bound (values k/{P})",
               ylabel="training loss (MSE)", yscale="log",
               title="1-D task" if task == "main" else "2-D-input control task")
        ax.legend(fontsize=9)
    fig.tight_layout()
    save_figure(fig, "minimal_ratio_vs_loss")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook (used by ``python -m hw1.figures``): the cutoff sweep;
    where the curvature comes from; the minimal ratio vs loss per task."""
    return [figure_ratio_vs_cutoff(results), figure_curvature_sources(results),
            figure_ratio_vs_loss(results)]
