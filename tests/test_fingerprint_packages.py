"""Code fingerprints of experiment packages: the compute path starts at ``<name>.run``, follows
relative imports, and leaves out the package's ``__init__``, ``analysis`` and ``figures``; the
table-only functions of hw1.intervals are left out too."""

import shutil
import textwrap
from pathlib import Path

import pytest

from hw1.fingerprint import (
    SRC_ROOT,
    code_fingerprint,
    compute_path,
    entry_module,
    experiment_fingerprint,
)

FILES = {
    "hw1/__init__.py": "",
    "hw1/models.py": """
        def make(width):
            return [0.0] * width
    """,
    "hw1/plotting.py": """
        def save_figure(fig, name):
            return name
    """,
    "hw1/experiments/__init__.py": 'EXPERIMENTS = ("toy", "solo")',
    "hw1/experiments/solo.py": """
        from hw1.models import make

        def run(cfg):
            return make(cfg)

        def make_figures(results):
            return len(results)
    """,
    "hw1/experiments/toy/__init__.py": """
        \"\"\"The toy experiment.\"\"\"
        from .analysis import summary
        from .figures import make_figures
        from .run import Config, run
    """,
    "hw1/experiments/toy/run.py": """
        from hw1.models import make

        from . import schedule
        from .units import train

        class Config:
            width = 3

        def run(cfg):
            return [_unit(cfg, seed) for seed in range(schedule.SEEDS)]

        def _unit(cfg, seed):
            return train(make(cfg.width), seed)

        def describe(results):
            return "not reachable from run"
    """,
    "hw1/experiments/toy/units.py": """
        def train(weights, seed):
            return [w + seed for w in weights]

        def unused_helper():
            return 1
    """,
    "hw1/experiments/toy/schedule.py": "SEEDS = 3",
    "hw1/experiments/toy/analysis.py": """
        from hw1.intervals import t_interval

        def summary(results):
            return [t_interval(r) for r in results]
    """,
    "hw1/experiments/toy/figures.py": """
        from hw1.plotting import save_figure

        from .analysis import summary

        def make_figures(results):
            return save_figure(None, "toy_curves" + str(summary(results)))
    """,
    "hw1/intervals.py": """
        def t_interval(values):
            return sum(values), 0.0
    """,
}


@pytest.fixture
def tree(tmp_path) -> Path:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def _edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_package_compute_path_starts_at_run_and_follows_relative_imports(tree):
    path = compute_path("hw1.experiments.toy", tree)
    assert set(path) == {"hw1.experiments.toy.run", "hw1.experiments.toy.units",
                         "hw1.experiments.toy.schedule", "hw1.models"}
    assert entry_module("hw1.experiments.toy", tree) == "hw1.experiments.toy.run"
    assert entry_module("hw1.experiments.solo", tree) == "hw1.experiments.solo"
    fingerprint = experiment_fingerprint("toy", tree)
    assert fingerprint == code_fingerprint("hw1.experiments.toy.run", tree)
    assert fingerprint == code_fingerprint("hw1.experiments.toy", tree)
    assert experiment_fingerprint("solo", tree) == code_fingerprint("hw1.experiments.solo", tree)
    assert experiment_fingerprint("missing", tree) is None


@pytest.mark.parametrize("relative, old, new", [
    ("hw1/experiments/toy/figures.py", '"toy_curves"', '"toy_curves_v2"'),
    ("hw1/experiments/toy/analysis.py", "return [t_interval(r)", "return [t_interval(r)[0]"),
    ("hw1/experiments/toy/analysis.py", "def summary(", "def extra(): ...\n\n\ndef summary("),
    ("hw1/experiments/toy/__init__.py", "from .run import", "VERSION = 2\nfrom .run import"),
    ("hw1/experiments/toy/run.py", '"not reachable from run"', '"still not reachable"'),
    ("hw1/experiments/toy/run.py", "class Config:", "# a comment\nclass Config:"),
    ("hw1/plotting.py", "return name", "return name.upper()"),
    ("hw1/intervals.py", "sum(values), 0.0", "sum(values), 1.0"),  # only analysis uses it
])
def test_presentation_changes_of_a_package_keep_its_fingerprint(tree, relative, old, new):
    before = experiment_fingerprint("toy", tree)
    _edit(tree, relative, old, new)
    assert experiment_fingerprint("toy", tree) == before


@pytest.mark.parametrize("relative, old, new", [
    ("hw1/experiments/toy/run.py", "return train(make(cfg.width), seed)",
     "return train(make(cfg.width + 1), seed)"),
    ("hw1/experiments/toy/run.py", "width = 3", "width = 4"),
    ("hw1/experiments/toy/units.py", "w + seed", "w - seed"),
    ("hw1/experiments/toy/units.py", "return 1", "return 2"),  # a helper module counts whole
    ("hw1/experiments/toy/schedule.py", "SEEDS = 3", "SEEDS = 5"),  # `from . import schedule`
    ("hw1/models.py", "[0.0] * width", "[1.0] * width"),
])
def test_compute_changes_of_a_package_change_its_fingerprint(tree, relative, old, new):
    before = experiment_fingerprint("toy", tree)
    solo = experiment_fingerprint("solo", tree)
    _edit(tree, relative, old, new)
    assert experiment_fingerprint("toy", tree) != before
    assert (experiment_fingerprint("solo", tree) != solo) == relative.endswith("models.py")


def test_run_importing_analysis_puts_it_on_the_path(tree):
    _edit(tree, "hw1/experiments/toy/run.py", "from .units import train",
          "from .analysis import summary  # noqa: F401\nfrom .units import train")
    assert "hw1.experiments.toy.analysis" in compute_path("hw1.experiments.toy", tree)
    before = experiment_fingerprint("toy", tree)
    _edit(tree, "hw1/experiments/toy/analysis.py", "return [t_interval(r)",
          "return [t_interval(r)[0]")
    assert experiment_fingerprint("toy", tree) != before


def test_single_module_experiment_keeps_its_rule(tree):
    before = experiment_fingerprint("solo", tree)
    _edit(tree, "hw1/experiments/solo.py", "return len(results)", "return 0")  # make_figures
    assert experiment_fingerprint("solo", tree) == before
    _edit(tree, "hw1/experiments/solo.py", "return make(cfg)", "return make(cfg + 1)")
    assert experiment_fingerprint("solo", tree) != before


@pytest.fixture
def real_tree(tmp_path) -> Path:
    shutil.copytree(SRC_ROOT / "hw1", tmp_path / "hw1",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize("old, new, changes", [
    ("p = 1.0 if n_b + n_c == 0", "p = 0.5 if n_b + n_c == 0", False),  # mcnemar
    ("z = float(stats.norm.ppf((1 + level) / 2))", "z = 2.0", False),  # wilson
    ("out[order] = np.maximum.accumulate(adjusted)", "out[order] = adjusted", False),  # holm
    ("replicates = np.empty(int(n_boot))", "replicates = np.zeros(int(n_boot))", False),
    ("stats.t.ppf(0.975, len(values) - 1)", "stats.t.ppf(0.95, len(values) - 1)", True),
    ("def t_interval(", "def new_statistic():\n    return 1\n\n\ndef t_interval(", True),
])
def test_table_only_functions_of_intervals_leave_fingerprints_alone(real_tree, old, new,
                                                                    changes):
    entry = "hw1.experiments.probe"  # a stand-in experiment whose run uses hw1.intervals
    (real_tree / "hw1" / "experiments" / "probe.py").write_text(
        "from hw1.intervals import t_interval\n\n\ndef run(values):\n"
        "    return t_interval(values)\n")
    assert "hw1.intervals" in compute_path(entry, real_tree)
    before = code_fingerprint(entry, real_tree)
    path = real_tree / "hw1" / "intervals.py"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    assert (code_fingerprint(entry, real_tree) != before) == changes


def test_a_table_only_function_on_the_compute_path_is_refused(real_tree):
    """If run-reachable code called a function whose digest is left out, the fingerprint
    would miss changes to it: compute_path refuses instead."""
    probe = real_tree / "hw1" / "experiments" / "probe.py"
    probe.write_text("from hw1.intervals import t_interval, wilson\n\n\n"
                     "def _table(values):\n    return wilson(1, 2)\n\n\n"
                     "def run(values):\n    return t_interval(values)\n")
    compute_path("hw1.experiments.probe", real_tree)  # wilson only off the run path: fine
    probe.write_text(probe.read_text().replace("return t_interval(values)",
                                               "return t_interval(values), _table(values)"))
    with pytest.raises(RuntimeError, match="table-only"):
        compute_path("hw1.experiments.probe", real_tree)
