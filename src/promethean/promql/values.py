"""The values the engine passes between operators and functions.

The contract between the engine core and the function implementations
(``promql/funcs``). Everything is evaluated for every step of a query at
once: an instant-vector expression becomes a :class:`StepMatrix` (series x
steps), a range-vector argument a :class:`RangeInput`, a scalar a float64
array with one value per step, a string a ``str``. An instant query is a
range query with one step.

Additions to the agreed shape, both optional so callers may ignore them:

* ``StepMatrix.timestamps``: the timestamp (ms) of the sample chosen at each
  step, filled by the engine only where it differs from the step time
  (a plain vector selector); ``timestamp()`` reads it, everything else ignores
  it. ``None`` means "the step time".
* ``StepMatrix.drop_name``: per-series flag for 3.x delayed ``__name__``
  removal; the engine sets and resolves it, functions need not care.
* ``RangeInput.anchored`` / ``smoothed`` / ``lookback_ms``: the extended range
  selectors; see the field comments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from promethean.model.labels import Labels
from promethean.promql.annotations import Annotations

__all__ = [
    "Annotations",
    "EvalContext",
    "EvalError",
    "RangeInput",
    "StepMatrix",
]


class EvalError(Exception):
    """A query that cannot be evaluated; ``str()`` is upstream's message (errorType execution)."""


@dataclass
class StepMatrix:
    """An instant-vector expression evaluated at every step of the query at once."""

    labels: list[Labels]  # one per series (may contain __name__)
    values: npt.NDArray[np.float64]  # shape [n_series, n_steps]
    present: npt.NDArray[np.bool_]  # same shape: sample exists at that step (NaN is legal)
    timestamps: npt.NDArray[np.int64] | None = None  # same shape, or None: the step times
    drop_name: npt.NDArray[np.bool_] | None = None  # [n_series], delayed name removal
    # (room for native histograms later: an optional parallel object array)

    @classmethod
    def empty(cls, n_steps: int) -> StepMatrix:
        return cls(
            [],
            np.zeros((0, n_steps), dtype=np.float64),
            np.zeros((0, n_steps), dtype=np.bool_),
        )

    @property
    def n_series(self) -> int:
        return len(self.labels)

    @property
    def n_steps(self) -> int:
        return int(self.values.shape[1])


@dataclass
class RangeInput:
    """A range-vector argument (matrix selector or subquery) for a range function."""

    labels: list[Labels]
    timestamps: list[npt.NDArray[np.int64]]  # per series, ascending, ms
    values: list[npt.NDArray[np.float64]]  # per series
    step_times: npt.NDArray[np.int64]  # [n_steps] evaluation timestamps (ms), offset/@ applied
    range_ms: int  # window for step j: step_times[j] - range_ms < t <= step_times[j]
    # Set for a matrix selector (None for a subquery): the metric name, for annotations.
    metric_names: list[str] = field(default_factory=list)
    # ``anchored`` / ``smoothed`` range selectors (3.x extended ranges). The per-series
    # arrays then also hold the samples up to ``lookback_ms`` before each window (and,
    # smoothed, up to ``lookback_ms`` after it), so a function can anchor the window on the
    # sample just before it or interpolate across its edges. Only the functions upstream
    # allows (rate, increase, delta; anchored also changes, resets) ever see such an input.
    anchored: bool = False
    smoothed: bool = False
    lookback_ms: int = 0
    # Start timestamps (ms, 0: unknown) aligned with ``timestamps``, per series, when the
    # storage has them (a selector over start-timestamp storage); None otherwise, and
    # always for subqueries (upstream: they cut the propagation).
    start_timestamps: list[npt.NDArray[np.int64] | None] | None = None
    # Derived data computed once per input (the flat sample windows), shared by the
    # engine's sample count and the function that consumes the input.
    cache: dict[str, object] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class EvalContext:
    """What a function may know about the query it runs in."""

    start_ms: int
    end_ms: int
    step_ms: int  # the query's (instant query: start == end, step 0 treated as one step)
    step_times: npt.NDArray[np.int64]  # [n_steps]
    lookback_ms: int
    annotations: Annotations
    check_cancelled: Callable[[], None]  # raises on timeout/cancel; call it in long loops
    enable_experimental_functions: bool = False
    # "line:col" of each argument of the call, for annotation texts as upstream's.
    arg_positions: list[str] = field(default_factory=list)
    query: str = ""  # the query text, when known

    @property
    def n_steps(self) -> int:
        return int(self.step_times.shape[0])
