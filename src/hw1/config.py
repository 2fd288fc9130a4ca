"""The profile switch, seeding, device choice and frozen experiment configs.

Every experiment defines one frozen dataclass (a subclass of :class:`ExperimentConfig`)
with a ``full`` instance (the homework's real settings) and a ``smoke`` instance (seconds
per notebook, for CI). :func:`ExperimentConfig.resolve` picks the one that matches
``HW1_PROFILE`` and applies validated overrides.
"""

from __future__ import annotations

import dataclasses
import os
import random
import types
import typing
from typing import Any, ClassVar, Self

import numpy as np
import torch

PROFILES = ("full", "smoke")


def profile() -> str:
    """Return the active profile from ``HW1_PROFILE`` (default ``"full"``).

    Raises:
        ValueError: if ``HW1_PROFILE`` is set to anything but ``full`` or ``smoke``.
    """
    value = os.environ.get("HW1_PROFILE", "full").strip().lower() or "full"
    if value not in PROFILES:
        raise ValueError(
            f"HW1_PROFILE={os.environ['HW1_PROFILE']!r} is not a profile; "
            f"valid values are {', '.join(PROFILES)} (unset means full)."
        )
    return value


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch's global generators, and return a fresh generator.

    Use the returned ``torch.Generator`` (or :func:`generator`) for anything that should be
    reproducible on its own: label shuffles, subsets, batch order.

    Args:
        seed: a non-negative integer.

    Returns:
        A CPU ``torch.Generator`` seeded with ``seed``.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return generator(seed)


def generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (independent of the global state)."""
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def device() -> torch.device:
    """The device to compute on: CUDA when present, else CPU; ``HW1_DEVICE`` overrides.

    Raises:
        ValueError: if ``HW1_DEVICE`` names an unknown device or one that is not available.
    """
    asked = os.environ.get("HW1_DEVICE", "").strip()
    if not asked:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(asked)
    except RuntimeError as err:
        raise ValueError(
            f"HW1_DEVICE={asked!r} is not a device; use cpu, cuda or cuda:N ({err})"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"HW1_DEVICE={asked!r} but CUDA is not available here; use cpu")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"HW1_DEVICE={asked!r} is not supported; use cpu, cuda or cuda:N")
    return dev


def _type_ok(value: Any, hint: Any) -> tuple[bool, Any]:
    """Check ``value`` against a simple type hint; return (ok, possibly converted value)."""
    origin = typing.get_origin(hint)
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint in (str, bool):
        return isinstance(value, hint), value
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            return False, value
        args = typing.get_args(hint)
        elem = args[0] if args else Any
        converted = []
        for v in value:
            ok, v2 = _type_ok(v, elem)
            if not ok:
                return False, value
            converted.append(v2)
        return True, tuple(converted)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(hint):
            if arm is type(None) and value is None:
                return True, value
            ok, v2 = _type_ok(value, arm)
            if ok:
                return True, v2
        return False, value
    return True, value


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Base of every experiment's frozen config.

    Subclasses list their fields, set ``name`` (the run-store folder), ``positive`` (fields
    that must be > 0) and ``choices`` (fields limited to named values, such as dataset names),
    and attach their ``full`` and ``smoke`` instances with :meth:`register`. All of it is
    checked when a config is made, before any expensive work.
    """

    name: ClassVar[str] = "experiment"
    positive: ClassVar[tuple[str, ...]] = ()
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}
    profiles: ClassVar[dict[str, ExperimentConfig]]

    def __post_init__(self) -> None:
        for field, valid in self.choices.items():
            value = getattr(self, field)
            values = value if isinstance(value, tuple) else (value,)
            bad = [v for v in values if v not in valid]
            if bad:
                raise ValueError(
                    f"{type(self).__name__}.{field}: {', '.join(map(repr, bad))} is not valid; "
                    f"choose from {', '.join(valid)}")
        for field in self.positive:
            value = getattr(self, field)
            values = value if isinstance(value, tuple) else (value,)
            if any(v is None or v <= 0 for v in values):
                raise ValueError(
                    f"{type(self).__name__}.{field} must be positive, got {value!r}"
                )

    @classmethod
    def register(cls, full: Self, smoke: Self) -> None:
        """Attach the ``full`` and ``smoke`` instances to the class."""
        cls.profiles = {"full": full, "smoke": smoke}

    @classmethod
    def resolve(cls, profile_name: str | None = None, **overrides: Any) -> Self:
        """The config for a profile (default: the active one) with validated overrides.

        Raises:
            ValueError: on an unknown profile, an unknown override key or a wrongly typed
                value; the message lists the valid keys or the expected type.
        """
        name = profile_name or profile()
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; valid values are {', '.join(PROFILES)}")
        return cls.profiles[name].override(**overrides)

    def override(self, **overrides: Any) -> Self:
        """A copy with some fields replaced, each checked against its declared type."""
        hints = typing.get_type_hints(type(self))
        fields = [f.name for f in dataclasses.fields(self)]
        clean = {}
        for key, value in overrides.items():
            if key not in fields:
                raise ValueError(
                    f"{type(self).__name__} has no setting {key!r}; valid settings: "
                    f"{', '.join(fields)}"
                )
            ok, converted = _type_ok(value, hints[key])
            if not ok:
                hint = getattr(hints[key], "__name__", str(hints[key]))
                raise ValueError(
                    f"{type(self).__name__}.{key} must be {hint}, got {value!r} "
                    f"({type(value).__name__})"
                )
            clean[key] = converted
        return dataclasses.replace(self, **clean)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the fields (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}
