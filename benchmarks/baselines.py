"""The straightforward implementations a student would write, for the benchmark suite."""

from __future__ import annotations

import copy
import functools

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from hw1.paths import data_dir
from hw1.training import cosine_factor, train


@functools.cache
def _mnist_loader():
    from torch.utils.data import DataLoader
    from torchvision import transforms
    from torchvision.datasets import MNIST

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = MNIST(str(data_dir()), train=True, download=False, transform=tf)
    return DataLoader(ds, batch_size=64, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def dataloader_epoch() -> None:
    """One epoch of MLP 784-128-64-10 through torchvision's MNIST + ToTensor + DataLoader."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64),
                          nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for xb, yb in _mnist_loader():
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()


def loop_critical_points(models, loss_fn, X, y, *, phase1_steps, phase1_lr, phase2_steps,
                         phase2_lr, threshold) -> list[float]:
    """Phase 1 (loss) then phase 2 (‖∇L‖² by double backward), one run after another."""
    norms = []
    for model in models:
        params = list(model.parameters())
        opt = torch.optim.Adam(params, lr=phase1_lr)
        for _ in range(phase1_steps):
            opt.zero_grad()
            loss_fn(model(X), y).backward()
            opt.step()
        opt = torch.optim.Adam(params, lr=phase2_lr)
        for _ in range(phase2_steps):
            opt.zero_grad()
            grads = torch.autograd.grad(loss_fn(model(X), y), params, create_graph=True)
            gn2 = sum((g ** 2).sum() for g in grads)
            if gn2.sqrt().item() < threshold:
                break
            gn2.backward()
            opt.step()
        norms.append(gn2.sqrt().item())
    return norms


def sequential_runs(models, x_train, y_train, x_test, y_test, *, seeds, epochs, batch_size,
                    lr) -> None:
    """Each model trained on its own with :func:`hw1.training.train`."""
    for model, seed in zip(models, seeds, strict=True):
        train(model, x_train, y_train, x_test, y_test, epochs=epochs, batch_size=batch_size,
              lr=lr, seed=seed)


def per_sample_sensitivity_loop(model, X, y) -> tuple[list[float], list[float]]:
    """Both sensitivities sample by sample: a Jacobian row per class, then the loss gradient."""
    jac, lossg = [], []
    for i in range(len(X)):
        x = X[i:i + 1].clone().requires_grad_(True)
        probs = torch.softmax(model(x), dim=1)[0]
        rows = [torch.autograd.grad(probs[k], x, retain_graph=True)[0].flatten()
                for k in range(len(probs))]
        jac.append(torch.stack(rows).norm().item())
        x = X[i:i + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(nn.functional.cross_entropy(model(x), y[i:i + 1]), x)
        lossg.append(g.norm().item())
    return jac, lossg


def _flat_loss(model, loss_fn, X, y):
    base = copy.deepcopy(model).double()
    names = [n for n, _ in base.named_parameters()]
    shapes = [p.shape for p in base.parameters()]
    sizes = [p.numel() for p in base.parameters()]
    theta = torch.cat([p.detach().flatten() for p in base.parameters()])
    Xd, yd = X.double(), y.double()

    def f(flat):
        parts = torch.split(flat, sizes)
        return loss_fn(functional_call(base, {n: t.view(s) for n, t, s in
                                              zip(names, parts, shapes, strict=True)}, (Xd,)), yd)

    return f, theta


def hessian_row_by_row(model, loss_fn, X, y) -> torch.Tensor:
    """One double-backward call per Hessian row."""
    f, theta = _flat_loss(model, loss_fn, X, y)
    theta = theta.requires_grad_(True)
    (g,) = torch.autograd.grad(f(theta), theta, create_graph=True)
    return torch.stack([torch.autograd.grad(g[i], theta, retain_graph=True)[0]
                        for i in range(len(theta))])


def hessian_autograd_functional(model, loss_fn, X, y) -> torch.Tensor:
    """``torch.autograd.functional.hessian`` over the flattened parameters."""
    f, theta = _flat_loss(model, loss_fn, X, y)
    return torch.autograd.functional.hessian(f, theta)


class FrozenEnsembleStep:
    """``hw1.ensemble.train_ensemble``'s inner step as of commit 03b56c0, frozen for the
    training-step benchmark (``benchmarks/train_steps.py``).

    What each step pays for: ``vmap(functional_call)`` forward and autograd backward over R
    stacked parameter tensors; ``torch.optim`` Adam or SGD in its for-loop (single-tensor)
    implementation, the CPU default; per-model or scheduled learning rates applied by cloning
    every parameter and ``addcmul``-ing each model's scaled update back; and a finiteness check
    of the R losses that synchronizes every step. Models never freeze here (the benchmark runs
    without a criterion).

    Args:
        models: R models of one architecture.
        x_train: inputs ``(N, ...)``; y_train: labels ``(N,)`` or targets ``(N, K)``.
        lr: one learning rate or R of them.
        optimizer, loss, schedule: as for ``train_ensemble``.
        total_steps: the cosine schedule's length.
    """

    def __init__(self, models, x_train, y_train, *, lr, optimizer="adam",
                 loss="cross_entropy", schedule="constant", total_steps=1):
        params, _ = stack_module_state(list(models))
        self.params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.base = copy.deepcopy(models[0]).to("meta")
        self.size = len(models)
        self.x, self.y, self.lr = x_train, y_train, lr
        per_model = not isinstance(lr, (int, float))
        base = torch.as_tensor(list(lr) if per_model else [lr] * self.size, dtype=torch.float64)
        if schedule == "constant" and not per_model:
            self.rates = None
        elif schedule == "constant":
            self.rates = lambda step: base
        else:
            self.rates = lambda step: base * cosine_factor(step, total_steps)
        loss_fn = nn.functional.cross_entropy if loss == "cross_entropy" else nn.functional.mse_loss
        opt_lr = lr if self.rates is None else 1.0
        plist = list(self.params.values())
        self.opt = (torch.optim.Adam(plist, lr=opt_lr, foreach=False) if optimizer == "adam"
                    else torch.optim.SGD(plist, lr=opt_lr, momentum=0.9, foreach=False))
        self.per_model_loss = vmap(
            lambda p, xb, yb: loss_fn(functional_call(self.base, p, (xb,)), yb))
        self.steps = 0

    @torch.no_grad()
    def _scaled_step(self, rates):
        before = {k: p.detach().clone() for k, p in self.params.items()}
        self.opt.step()
        for k, p in self.params.items():
            scale = rates.to(p.dtype).reshape(-1, *([1] * (p.dim() - 1)))
            p.copy_(torch.addcmul(before[k], scale, p - before[k]))

    def step(self, idx, epoch, step):
        """One step of every model; model r on samples ``idx[r]`` (``idx`` ``(R, B)``)."""
        self.opt.zero_grad(set_to_none=True)
        losses = self.per_model_loss(self.params, self.x[idx], self.y[idx])  # (R,)
        finite = torch.isfinite(losses)
        if not finite.all():
            bad = torch.nonzero(~finite).flatten().tolist()
            raise FloatingPointError(
                f"training diverged: loss of model(s) {bad} is not finite at epoch {epoch}, "
                f"step {step} (lr={self.lr}); lower the learning rate or check the data.")
        losses.sum().backward()
        if self.rates is None:
            self.opt.step()
        else:
            self._scaled_step(self.rates(self.steps))
        self.steps += 1
