"""Progress bars: ``tqdm.auto`` (a widget in Jupyter, text in a terminal).

``TQDM_DISABLE=1`` hides them; it is honoured here explicitly because the notebook widget
of ``tqdm.auto`` ignores it. ``make run`` and ``make test`` set it so executed notebooks
carry no stale bars.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], **kwargs) -> tqdm:
    """``tqdm.auto.tqdm(iterable, **kwargs)``, disabled when ``TQDM_DISABLE`` is set."""
    if os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes"):
        kwargs["disable"] = True
    return tqdm(iterable, **kwargs)
