"""Figures of the minimal-ratio notebook, saved through :func:`hw1.plotting.save_figure`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from hw1.experiments.minimal_ratio.analysis import (
    TAUS,
    _each,
    label,
    ratio_at_weyl,
    ratio_vs_cutoff,
    weyl_levels,
)
from hw1.plotting import save_figure

#: text size of every figure: the PNGs are about 1,000 px wide, so 11 pt stays >= 9 pt when
#: a page shows them 880 px wide
FONT = {"font.size": 11, "legend.fontsize": 11, "axes.titlesize": 11, "axes.labelsize": 11,
        "xtick.labelsize": 11, "ytick.labelsize": 11}

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
    with plt.rc_context(FONT):
        return _ratio_vs_cutoff(main, lc, P, floor)


def _ratio_vs_cutoff(main: dict, lc: str, P: int, floor: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8.4, 5.0))
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
           title="Minimal ratio vs cutoff, 1-D task\n(band: lowest to highest refined run)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=1)
    save_figure(fig, "minimal_ratio_vs_tolerance")
    return fig


def figure_curvature_sources(results: dict) -> plt.Figure:
    """Four panels: (a) rank of G against the linear-region bound (ReLU); (b) |λ_min(H)|
    against ‖R‖₂; (c) the paired within-run changes of log|λ_min| and log‖∇L‖ from the end
    point to the refined point; (d) ‖Hg‖/‖g‖ divided by the even-spread reference
    √(mean λ²) per run, a strip per point type (end, refined, further refined). Saved as
    ``minimal_ratio_curvature_sources``."""
    with plt.rc_context(FONT):
        return _curvature_sources(results)


def _curvature_sources(results: dict) -> plt.Figure:
    fig, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(9.6, 9.0))
    kinds = [("eigenvalues", "end", "end"), ("refined_eigenvalues", "refined", "refined"),
             ("deep_eigenvalues", "deep", "further\nrefined")]
    names = [name for name, _, _ in _each(results)]
    jitter = np.random.default_rng(0)
    for k, (name, act, r) in enumerate(_each(results)):
        color = COLORS.get(name)
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        rank = np.array([f["rank_gn"] for f in r["refined"]])
        if act == "relu":
            bound = (r["input_dim"] + 1) * np.array([f["regions"] for f in r["refined"]])
            a.scatter(bound, rank, s=14, alpha=0.7, color=color)
        lam_min = np.clip(-eig.min(1), 1e-300, None)
        r_norm = np.abs(np.asarray(r["residual_eigenvalues"])).max(1)
        b.scatter(r_norm, lam_min, s=14, alpha=0.7, color=color)
        e0 = np.asarray(r["eigenvalues"]).min(1)
        g0 = np.array([f["grad_norm"] for f in r["end"]])
        g1 = np.array([f["grad_norm"] for f in r["refined"]])
        use = (e0 < 0) & (eig.min(1) < 0)
        c.scatter(np.log10(g1 / g0)[use], np.log10(eig.min(1) / e0)[use], s=14, alpha=0.7,
                  color=color)
        for j, (key, fits, _) in enumerate(kinds):
            if not r[fits]:
                continue
            e = np.asarray(r[key], dtype=float)
            hg = np.array([f["hg_ratio"] for f in r[fits]])
            even = np.sqrt((e ** 2).mean(1))
            x = j + (k - (len(names) - 1) / 2) * 0.18 + jitter.uniform(-0.05, 0.05, len(hg))
            d.scatter(x, hg / even, s=14, alpha=0.7, color=color)
    lim = np.array(a.get_xlim())
    a.plot(lim, lim, color="grey", lw=0.8, label="rank G = bound")
    a.set(xlabel="(d+1) × linear regions\nholding data points", ylabel="rank G (= rank J)",
          title="(a) Gauss–Newton rank vs\nthe linear-region bound (ReLU)")
    a.legend(loc="upper left")
    b.set(xscale="log", yscale="log")
    lo, hi = b.get_xlim()
    b.plot([lo, hi], [lo, hi], color="grey", lw=0.8, label="|λ_min(H)| = ‖R‖₂\n(never above)")
    b.set(xlim=(lo, hi), xlabel="‖R‖₂ (residual part)",
          ylabel="|most negative eigenvalue of H|",
          title="(b) Negative curvature vs the\nresidual part (refined points)")
    b.legend(loc="upper left")
    c.axhline(0, color="grey", lw=0.8)
    c.axvline(0, color="grey", lw=0.8)
    c.set(xlabel="Δ log10 ‖∇L‖ (same run)", ylabel="Δ log10 |λ_min|",
          title="(c) Paired within-run changes,\nend → refined")
    d.axhline(1, color="grey", lw=0.8, label="1 = even spread")
    d.set(yscale="log", xticks=range(len(kinds)), xticklabels=[k[2] for k in kinds],
          xlim=(-0.5, len(kinds) - 0.5), ylabel="‖Hg‖/‖g‖ ÷ √(mean λ²)",
          title="(d) Gradient flatness\n(1 = gradient spread evenly)")
    d.legend(loc="upper right")
    handles = [Line2D([], [], marker="o", ls="", color=COLORS.get(n), label=n) for n in names]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles),
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    save_figure(fig, "minimal_ratio_curvature_sources")
    return fig


def figure_ratio_vs_loss(results: dict) -> plt.Figure:
    """The minimal ratio against the loss: (a) 1-D task and (b) 2-D control at the per-run
    Weyl bound; (c) 1-D task at the fixed cutoff λ_cut = 1e-4; (d) the ratio at 1e-4 against
    rank G (1-D). ReLU points coloured by their number of alive units. Saved as
    ``minimal_ratio_vs_loss``."""
    with plt.rc_context(FONT):
        return _ratio_vs_loss(results)


def _ratio_vs_loss(results: dict, cutoff: float = 1e-4) -> plt.Figure:
    fig, axes = plt.subplots(2, 2, figsize=(9.6, 8.6))
    panels = [(axes[0, 0], "main", None, "(a) 1-D task, at the per-run Weyl bound δ"),
              (axes[0, 1], "control", None, "(b) 2-D-input control, at δ"),
              (axes[1, 0], "main", cutoff, f"(c) 1-D task, at λ_cut = {cutoff:.0e}"),
              (axes[1, 1], "main", "rank", f"(d) 1-D task: ratio at {cutoff:.0e} vs rank G")]
    alive_range = [np.array([d["alive_units"] for d in per["relu"]["dead"]])
                   for per in results.values() if "relu" in per]
    vmin = min(v.min() for v in alive_range) if alive_range else 0
    vmax = max(v.max() for v in alive_range) if alive_range else 1
    sc = None
    for ax, task, what, title in panels:
        if task not in results:
            ax.set_visible(False)
            continue
        for act, r in results[task].items():
            name = label(task, act)
            eig = np.asarray(r["refined_eigenvalues"], dtype=float)
            P = eig.shape[1]
            if what is None:
                ratio = ratio_at_weyl(r)
            else:
                ratio = ratio_vs_cutoff(eig, np.array([cutoff]))[:, 0]
            y = np.array([f["loss"] for f in r["refined"]])
            if what == "rank":
                y = np.array([f["rank_gn"] for f in r["refined"]])
            if act == "relu":
                alive = np.array([d["alive_units"] for d in r["dead"]])
                sc = ax.scatter(ratio, y, c=alive, cmap="viridis", vmin=vmin, vmax=vmax, s=18,
                                marker="o")
            else:
                ax.scatter(ratio, y, s=22, marker="x", color=COLORS.get(name))
        ax.set(xlabel=f"minimal ratio (values k/{P})", title=title,
               ylabel="rank G (= rank J)" if what == "rank" else "training loss (MSE)")
        if what != "rank":
            ax.set_yscale("log")
    handles = [Line2D([], [], marker="o", ls="", color="grey",
                      label="ReLU (colour = alive units)"),
               Line2D([], [], marker="x", ls="", color=COLORS["tanh"], label="tanh (1-D)"),
               Line2D([], [], marker="x", ls="", color=COLORS["tanh, 2-D"], label="tanh (2-D)")]
    fig.legend(handles=handles, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.05, 0.9, 1))
    if sc is not None:
        cax = fig.add_axes((0.91, 0.15, 0.018, 0.7))
        fig.colorbar(sc, cax=cax, label="alive hidden units (ReLU)")
    save_figure(fig, "minimal_ratio_vs_loss")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook (used by ``python -m hw1.figures``): the cutoff sweep;
    where the curvature comes from; the minimal ratio vs loss (at δ per task, at a fixed
    cutoff, and against rank G)."""
    return [figure_ratio_vs_cutoff(results), figure_curvature_sources(results),
            figure_ratio_vs_loss(results)]
