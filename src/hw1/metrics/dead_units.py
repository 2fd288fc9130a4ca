"""Dead ReLU units and the parameters they switch off (HW1-2, where zero curvature comes from).

A hidden ReLU unit whose pre-activation is <= 0 on every training input outputs 0 everywhere:
its incoming weights and bias, and its outgoing weights, do not change the network's output on
the data, so the loss is constant along each of them and the Hessian has a zero row and
column for each (an exact zero eigenvalue per parameter).
"""

from __future__ import annotations

import torch
from torch import nn

from hw1.metrics._common import eval_mode


@torch.no_grad()
def dead_relu_parameters(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor | int]:
    """Which parameters of an MLP are attached to a ReLU unit that is dead on ``x``.

    Args:
        model: an ``nn.Sequential`` of ``nn.Linear`` layers, each hidden one followed by an
            ``nn.ReLU`` (other modules, e.g. ``nn.Flatten``, pass through).
        x: the inputs the units are judged on ``(N, ...)``.

    Returns:
        dict with ``mask`` ``(P,)`` bool in ``model.parameters()`` order (True: the parameter
        is an incoming weight, bias or outgoing weight of a dead unit), ``dead_parameters``
        (its sum), ``dead_units`` and ``alive_units`` (hidden ReLU units, all layers).

    Raises:
        ValueError: if the model is not such an MLP.
    """
    linears = [m for m in model if isinstance(m, nn.Linear)]
    if not any(isinstance(m, nn.ReLU) for m in model) or len(linears) < 2:
        raise ValueError("dead_relu_parameters needs an nn.Sequential MLP with nn.Linear "
                         "layers and nn.ReLU activations")
    masks = {id(p): torch.zeros_like(p, dtype=torch.bool) for p in model.parameters()}
    dead_units = alive_units = 0
    h = x
    with eval_mode(model):
        modules = list(model)
        for i, m in enumerate(modules):
            h = m(h)
            if isinstance(m, nn.Linear) and i + 1 < len(modules) and \
                    isinstance(modules[i + 1], nn.ReLU):
                dead = (h <= 0).all(dim=0)  # (width,)
                nxt = linears[linears.index(m) + 1]
                masks[id(m.weight)][dead, :] = True
                masks[id(m.bias)][dead] = True
                masks[id(nxt.weight)][:, dead] = True
                dead_units += int(dead.sum())
                alive_units += int((~dead).sum())
    mask = torch.cat([masks[id(p)].reshape(-1) for p in model.parameters()])
    return {"mask": mask, "dead_parameters": int(mask.sum()), "dead_units": dead_units,
            "alive_units": alive_units}
