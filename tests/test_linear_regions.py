import pytest
import torch
from torch import nn

from hw1.metrics import linear_regions
from hw1.models import mlp

GRID = torch.linspace(-1, 1, 2001, dtype=torch.float64)  # spacing 0.001


def relu_net(*layers):
    """``Linear -> ReLU -> ... -> Linear`` (float64) with the given ``(weight, bias)`` pairs."""
    modules = []
    for i, (w, b) in enumerate(layers):
        w = torch.as_tensor(w, dtype=torch.float64)
        lin = nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(torch.as_tensor(b, dtype=torch.float64))
        modules.append(lin)
        if i + 1 < len(layers):
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def one_layer(kinks_w_b):
    """One hidden layer: unit j computes relu(w_j x + b_j) (kink at -b_j / w_j); output sums."""
    w = [[wj] for wj, _ in kinks_w_b]
    b = [bj for _, bj in kinks_w_b]
    return relu_net((w, b), ([[1.0] * len(w)], [0.0]))


def slope_pieces(model, x, tol=1e-9):
    """Pieces of distinct slope of ``model`` on the grid ``x``, from finite differences.

    A kink inside a grid interval gives that interval an in-between slope, so the slope jumps
    on both of its sides: a run of consecutive jumps is one kink. Kinks closer than about two
    grid spacings would merge (the tests' grids are far finer than the gaps between kinks).
    """
    with torch.no_grad():
        y = model(x[:, None])[:, 0]
    s = torch.diff(y) / torch.diff(x)
    jump = torch.diff(s).abs() > tol
    return int(jump[0]) + int((jump[1:] & ~jump[:-1]).sum()) + 1


# kinks at x = -0.5 (x + 0.5), 0 (x) and 0.3 (-x + 0.3): three kinks in [-1, 1], four pieces
THREE_KINKS = [(1.0, 0.5), (1.0, 0.0), (-1.0, 0.3)]


def test_one_hidden_layer_with_kinks_at_known_points():
    model = one_layer(THREE_KINKS)
    assert linear_regions(model, GRID) == 4
    assert linear_regions(model, GRID[:, None]) == 4  # (N, 1) grid
    assert linear_regions(model.float(), GRID.float()) == 4
    assert slope_pieces(model.double(), GRID) == 4


def test_kinks_outside_the_grid_range_do_not_count():
    # extra units with kinks at x = 1.5 (off on [-1, 1]) and x = -2 (on on [-1, 1])
    model = one_layer([*THREE_KINKS, (1.0, -1.5), (1.0, 2.0)])
    assert linear_regions(model, GRID) == 4
    assert linear_regions(model, torch.linspace(-3, 3, 6001, dtype=torch.float64)) == 6
    assert linear_regions(model, torch.linspace(0.5, 1, 11, dtype=torch.float64)) == 1


def test_dead_and_constant_units_add_no_pieces():
    # relu(-1) is dead everywhere, relu(-x - 5) is dead on [-1, 1], relu(2) is always on
    model = one_layer([*THREE_KINKS, (0.0, -1.0), (-1.0, -5.0), (0.0, 2.0)])
    assert linear_regions(model, GRID) == 4
    all_dead = one_layer([(0.0, -1.0), (-1.0, -5.0)])
    assert linear_regions(all_dead, GRID) == 1


# Layer 1: u1 = relu(x + 0.5) (kink -0.5), u2 = relu(-x) (kink 0).
# Layer 2, on [-1, 1] (u1 + u2 is -x for x < -0.5, 0.5 on [-0.5, 0], x + 0.5 for x > 0):
#   v1 = relu(u1 - 1): u1 - 1 = x - 0.5 > 0 only for x > 0.5 -> a new kink at x = 0.5;
#   v2 = relu(u1 + u2): u1 + u2 >= 0.5 > 0, always on -> no kink of its own;
#   v3 = relu(u1 + u2 - 0.8): on for x < -0.8 (-x - 0.8 > 0) and for x > 0.3 (x - 0.3 > 0),
#        off between (0.5 - 0.8 < 0) -> a second-layer unit that folds: kinks at -0.8 and 0.3.
# Kinks -0.8, -0.5, 0, 0.3, 0.5 are 5 pattern changes -> 6 pieces.
LAYER1 = ([[1.0], [-1.0]], [0.5, 0.0])
LAYER2 = ([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]], [-1.0, 0.0, -0.8])


def test_two_hidden_layers_second_layer_units_add_kinks():
    model = relu_net(LAYER1, LAYER2, ([[1.0, 1.0, 1.0]], [0.0]))
    assert linear_regions(model, GRID) == 6
    # f = v1 + v2 + v3 has slopes -2, -1, 0, 1, 2, 3 on the six pieces: all adjacent differ
    assert slope_pieces(model, GRID) == 6
    first_layer_only = relu_net(LAYER1, ([[1.0, 1.0]], [0.0]))
    assert linear_regions(first_layer_only, GRID) == 3


def test_flip_blocked_downstream_changes_pattern_but_not_slope():
    # f = v1 + v3 (v2 dropped): slopes -1, 0, 0, 0, 1, 2. On [-0.8, 0.3] every output-carrying
    # second-layer unit is off, so the first-layer kinks at -0.5 and 0 leave f flat: still 6
    # activation regions, but only 4 pieces of distinct slope.
    model = relu_net(LAYER1, LAYER2, ([[1.0, 0.0, 1.0]], [0.0]))
    assert linear_regions(model, GRID) == 6
    assert slope_pieces(model, GRID) == 4


def test_narrow_pieces_are_missed_by_a_coarse_grid_and_the_count_only_grows():
    model = one_layer([*THREE_KINKS, (1.0, -0.61), (1.0, -0.62)])  # kinks 0.61, 0.62: 6 pieces
    coarse = torch.linspace(-1, 1, 21, dtype=torch.float64)  # spacing 0.1: 0.61, 0.62 in one gap
    assert linear_regions(model, coarse) == 5
    assert linear_regions(model, GRID) == 6
    # nested grids (each a subset of the next): the count never decreases as the grid refines
    fine = torch.linspace(-1, 1, 20_001, dtype=torch.float64)
    counts = [linear_regions(model, fine[::step]) for step in (2000, 1000, 100, 10, 1)]
    assert counts == sorted(counts) and counts[-1] == 6


@pytest.mark.parametrize("widths", [[8], [6, 6], [5, 5, 5]])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_mlp_count_matches_finite_difference_slope_changes(widths, seed):
    torch.manual_seed(seed)
    model = mlp(1, widths, 1).double()
    x = torch.linspace(-3, 3, 60_001, dtype=torch.float64)  # spacing 1e-4
    # Pattern changes where some hidden layer is entirely off on both sides leave the output
    # constant (see the blocked test above); every other change is a slope change.
    patterns = []
    hooks = [m.register_forward_hook(lambda m, i, out: patterns.append(out > 0))
             for m in model if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(x[:, None])
    for h in hooks:
        h.remove()
    change = (torch.cat(patterns, 1)[1:] != torch.cat(patterns, 1)[:-1]).any(1)
    dead = torch.stack([~p.any(1) for p in patterns]).any(0)
    blocked = int((change & dead[1:] & dead[:-1]).sum())
    regions = linear_regions(model, x)
    assert regions > 1
    assert regions - blocked == slope_pieces(model, x)


def test_restores_training_mode_and_leaves_model_unchanged():
    model = one_layer(THREE_KINKS)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    assert linear_regions(model, GRID) == 4
    assert model.training
    model.eval()
    linear_regions(model, GRID)
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(not m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("x, match", [
    (torch.zeros(5, 2), r"shape \(N,\) or \(N, 1\), got shape \(5, 2\)"),
    (torch.zeros(2, 3, 1), r"shape \(N,\) or \(N, 1\)"),
    (torch.tensor(0.5), r"shape \(N,\) or \(N, 1\), got shape \(\)"),
    (torch.tensor([0.5]), "at least 2 grid points"),
    (torch.zeros(0, 1), "at least 2 grid points"),
    (torch.tensor([0.0, 1.0, 0.5]), "sorted ascending"),
    (torch.tensor([1.0, 0.0]), "sorted ascending"),
    (torch.tensor([0.0, float("nan")]), "NaN or infinite"),
])
def test_bad_grid_is_rejected(x, match):
    with pytest.raises(ValueError, match=match):
        linear_regions(mlp(1, [4], 1), x)


def test_model_without_relu_is_rejected():
    with pytest.raises(ValueError, match="no nn.ReLU module"):
        linear_regions(nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1)), GRID.float())


def test_model_with_multi_dimensional_input_is_rejected():
    with pytest.raises(ValueError, match="1-D input.*takes 3 features"):
        linear_regions(mlp(3, [4], 1), GRID.float())


def test_model_that_cannot_take_n_by_1_inputs_is_rejected():
    with pytest.raises(ValueError, match=r"could not run the model on inputs of shape \(2001, 1\)"):
        linear_regions(nn.Sequential(nn.Conv1d(3, 4, 1), nn.ReLU()), GRID.float())


class UnusedReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.act = nn.Linear(1, 1), nn.ReLU()

    def forward(self, x):
        return torch.relu(self.lin(x))  # functional ReLU: the registered nn.ReLU never runs


def test_model_whose_relu_modules_never_run_is_rejected():
    with pytest.raises(ValueError, match="none of the model's nn.ReLU modules ran"):
        linear_regions(UnusedReLU(), GRID.float())
