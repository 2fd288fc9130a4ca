"""The one table formatter: 3 significant digits, intervals, long tables to a file."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hw1.report import MAX_ROWS, ci, diff, long_table, mean_pm, num, table, welch


@pytest.mark.parametrize(("value", "text"), [
    (0.0402333, "0.0402"), (12.345, "12.3"), (0.99167, "0.992"), (1.399e-6, "1.4e-6"),
    (-0.7275, "−0.728"), (669706, "669,706"), (321, "321"), (4780, "4,780"), (0.0, "0"),
    (True, "yes"),
    (float("nan"), "–"), (2.5e7, "2.5e7"), (np.float32(0.5), "0.500"), (np.int64(12), "12"),
    (440.0, "440"), (0.000667, "0.000667"), (9.996, "10.0"), (669706.0, "670,000"),
    (14.0, "14.0"), (6250.0, "6,250")])
def test_numbers_carry_three_significant_digits(value, text):
    assert num(value) == text


def test_interval_cells():
    values = [1.0, 2.0, 3.5]
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / math.sqrt(3)
    assert ci(values) == f"2.17 ± {half:.2g}"
    assert mean_pm(0.5, float("nan")) == "0.500"
    assert mean_pm(378.2, 440.0) == "378 ± 440"  # plain notation, not 4.4e2
    assert diff(0.04023, 0.0171, 0.06337) == "+0.0402 [0.0171, 0.0634]"
    assert diff(-2.333, -4.802, 0.1351) == "−2.33 [−4.80, 0.135]"
    w = welch([1.0, 2.0, 3.0], [10.0, 11.0, 12.5])
    assert w["CI excludes 0"] == "yes" and w["difference [95% CI]"].startswith("−9.17 [")


def test_table_is_a_dataframe_of_formatted_cells():
    frame = table([{"width": 16, "test error": 0.30213}, {"width": 20, "note": "peak"}])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["width", "test error", "note"]
    assert frame.iloc[0].tolist() == ["16", "0.302", ""]
    assert frame.iloc[1].tolist() == ["20", "", "peak"]
    assert "<table" in frame._repr_html_()


def test_long_table_writes_every_row_and_shows_the_first(tmp_path, capsys):
    rows = [{"i": i, "x": i / 7} for i in range(30)]
    shown = long_table(rows, "thirty_rows")
    path = tmp_path / "figures" / "tables" / "thirty_rows.csv"
    assert len(pd.read_csv(path)) == 30 and pd.read_csv(path)["x"].iloc[3] == pytest.approx(3 / 7)
    assert len(shown) == MAX_ROWS and "thirty_rows.csv" in capsys.readouterr().out
    assert long_table(rows, "thirty_rows", keep=[0, 29]).iloc[1].tolist() == ["29", "4.14"]
    with pytest.raises(ValueError, match="snake_case"):
        long_table(rows, "bad name.csv")


def test_paired_cells_are_the_paired_t_interval_of_the_differences():
    from hw1.report import paired

    a, b = [1.0, 2.0, 4.0], [0.5, 1.0, 2.0]  # differences 0.5, 1, 2: mean 7/6
    d = np.array([0.5, 1.0, 2.0])
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    cells = paired(a, b)
    assert cells["difference [95% CI]"] == diff(7 / 6, 7 / 6 - half, 7 / 6 + half)
    assert cells["CI excludes 0"] == ("yes" if 7 / 6 - half > 0 else "no")


def test_repo_relative_prints_the_data_folder_as_data(monkeypatch, tmp_path):
    from hw1.paths import REPO_ROOT
    from hw1.report import repo_relative

    monkeypatch.setenv("HW1_DATA_DIR", str(tmp_path / "elsewhere"))
    assert repo_relative(f"MNIST ({tmp_path}/elsewhere/MNIST/raw)") == "MNIST (data/MNIST/raw)"
    assert repo_relative(f"CIFAR ({REPO_ROOT}/data/cifar10)") == "CIFAR (data/cifar10)"
