"""PromQL's function library, dispatched by name through :data:`IMPLEMENTATIONS`.

Each entry is a :class:`RangeFunction` (takes a range vector as one
:class:`~promethean.promql.values.RangeInput`) or an :class:`InstantFunction`
(takes evaluated arguments in call order); ``entry.kind`` says which and
``entry.keeps_name`` whether ``__name__`` survives. The conventions, in
short (details in ``_registry``):

* range: ``fn(arg, params, ctx) -> (values, present)``, ``params`` being the
  call's other arguments in order (``quantile_over_time``'s q,
  ``predict_linear``'s t, ``double_exponential_smoothing``'s two factors);
* instant: ``fn(args, ctx) -> StepMatrix | per-step array``;
* ``timestamp`` reads ``StepMatrix.timestamps`` when the engine fills it;
* ``absent`` takes an optional second argument, the
  :func:`~promethean.promql.funcs.misc.absent_labels` of its expression;
  ``absent_over_time`` returns per-series presence, finished by the engine
  with :func:`~promethean.promql.funcs.misc.absent_result`;
* annotations carry the argument's position when the engine sets
  ``ctx.arg_positions`` (a ``"line:col"`` per call argument);
* a refused call raises :class:`FunctionError` with upstream's message.

``label_replace``/``label_join`` merge series that end up with equal labels
(see :func:`~promethean.promql.funcs.labels.merge_same_labelsets`). Not here:
``info`` (needs storage access, the engine's job) and native histograms.
"""

from promethean.promql.funcs import (  # noqa: F401  (importing registers the functions)
    histogram,
    labels,
    math,
    misc,
    over_time,
    range,
    sort,
    time,
)
from promethean.promql.funcs._registry import (
    IMPLEMENTATIONS,
    FunctionError,
    InstantFunction,
    RangeFunction,
)
from promethean.promql.funcs.labels import merge_same_labelsets
from promethean.promql.funcs.misc import absent_labels, absent_result

__all__ = [
    "IMPLEMENTATIONS",
    "FunctionError",
    "InstantFunction",
    "RangeFunction",
    "absent_labels",
    "absent_result",
    "merge_same_labelsets",
]
