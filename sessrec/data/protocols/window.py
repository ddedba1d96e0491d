"""The ``window`` protocol: session-rec's sliding-window evaluation (rn5l/session-rec,
``preprocessing/session_based/preprocess_*.py`` ``slice_data``, ``conf/preprocess/session_based/window/``).

::

    1. order      clicks inside a session by time (stable)
    2. filter     drop sessions < 2 -> drop items seen < 5 times -> drop sessions left < 2
                  (one pass, over the whole log, before slicing; the first length filter uses
                  min_session_length as session-rec's does, counted as dropped_length1_*)
    3. slice k of n_slices, t0 = the first click time left after the filter:

        t0   start = t0 + offset + k * shift      train_end = start + days_train    end
        ├─────────┬──────────────────────────────────────┬───────────────────────┤
                  │ train: sessions that END in           │ test: sessions that END in
                  │ [start, train_end)  (whole sessions)  │ [train_end, end]  (whole)
        sessions ending before start or after end are not in slice k

        slice 0 ├──── train ────┼─ test ─┤
        slice 1          shift ──>  ├──── train ────┼─ test ─┤
        slice 2                             shift ──>  ├──── train ────┼─ test ─┤

    4. sessions listed by start time; item_idx in order of first appearance in the slice's
       train; test clicks on items absent from the slice's train removed, test sessions left
       < 2 dropped; every event after the first in a test session is a case.
    5. with valid_days: train part = train sessions ending before (last train click -
       valid_days), valid = the others (session-rec's ``split_data`` rule), then 4 on valid.

A protocol run yields ONE slice (parameter ``slice``), so caching, run ids, ranks and the store
treat each slice as a dataset of its own; :func:`window_slices` lists the parameter sets of every
slice and results are reported per slice and averaged over slices. Every slice's boundaries are
in its statistics (``window_start``, ``window_train_end``, ``window_end``).

Defaults per dataset, session-rec's ``conf/preprocess/session_based/window/*.yml``
(``num_slices`` / ``days_train`` / ``days_test`` / ``days_offset`` / ``days_shift``):

================  ========  ==========  =========  ======  =====
recipe            n_slices  days_train  days_test  offset  shift
================  ========  ==========  =========  ======  =====
diginetica, any   5         25          7          45      18
retailrocket      5         25          2          0       27
yoochoose, rsc15  5         30          1          5       31
synthetic         3         6           2          2       10
================  ========  ==========  =========  ======  =====

("any": every other recipe gets DIGINETICA's values; the synthetic row is sized to the
generator's 30 days and is not session-rec's.)

Deviations from session-rec, said here once: its DIGINETICA loader dates a click by its own
row's ``eventdate`` plus ``timeframe`` and parses dates in the machine's local time zone;
sessrec's recipes use UTC and the session's first ``eventdate`` plus ``timeframe`` (the
time since the session start), so a session that crosses midnight can end one day earlier
here. Ties of equal time inside a session keep the file order (session-rec's ``sort_values``
does not promise an order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sessrec.data.protocols.clicks import DAY, Clicks, iso, order_clicks
from sessrec.data.protocols.compose import carve_if_asked, catalogue_and_test, finish
from sessrec.data.protocols.counts import Drops
from sessrec.data.protocols.filters import filter_once, require_clicks
from sessrec.data.protocols.params import MIN_SESSION_LENGTH, VALID_DAYS, Param, check_params
from sessrec.data.protocols.result import ProtocolResult, filter_once_stats
from sessrec.data.protocols.validation import carve_valid_by_end, valid_stats
from sessrec.errors import ConfigError, DataError
from sessrec.progress import emit

__all__ = [
    "WINDOW_PARAMS",
    "WINDOW_RECIPE_DEFAULTS",
    "Window",
    "build_window",
    "check_window_params",
    "slice_window",
    "window",
    "window_slices",
]

#: The parameters of ``window``, in the order the results list them (defaults: DIGINETICA's).
WINDOW_PARAMS = (
    Param("n_slices", int, 5, 1, doc="number of slices"),
    Param("days_train", float, 25, 0, open_min=True, unit="days", doc="training days of a slice"),
    Param("days_test", float, 7, 0, open_min=True, unit="days", doc="test days of a slice"),
    Param("offset", float, 45, 0, unit="days", doc="days from the first click to slice 0"),
    Param("shift", float, 18, 0, unit="days", doc="days between the starts of two slices"),
    Param("slice", int, 0, 0, doc="which slice (0 .. n_slices - 1) this split is"),
    Param("min_item_support", int, 5, 1, doc="items seen fewer times are removed (one pass, whole log)"),
    MIN_SESSION_LENGTH,
    VALID_DAYS,
)

_RSC15 = {"n_slices": 5, "days_train": 30, "days_test": 1, "offset": 5, "shift": 31}
#: session-rec's window settings per recipe (synthetic: sized to the generator, not session-rec's).
WINDOW_RECIPE_DEFAULTS: dict[str, dict[str, Any]] = {
    "retailrocket": {"n_slices": 5, "days_train": 25, "days_test": 2, "offset": 0, "shift": 27},
    "yoochoose": _RSC15,
    "synthetic": {"n_slices": 3, "days_train": 6, "days_test": 2, "offset": 2, "shift": 10},
}


@dataclass(frozen=True, eq=False)
class Window:
    """One slice of a window split.

    Attributes
    ----------
    train, test : Clicks
        Whole sessions ending in ``[start, train_end)`` and ``[train_end, end]``.
    start, train_end, end : float
        The slice's boundaries, in seconds.
    before, after : Drops
        Sessions (and their clicks) ending before ``start`` or after ``end``.
    """

    train: Clicks
    test: Clicks
    start: float
    train_end: float
    end: float
    before: Drops
    after: Drops


def slice_window(clicks: Clicks, p: Mapping[str, Any]) -> Window:
    """Rule *slice windows*: slice ``p["slice"]`` of ``clicks`` (parameters as in :data:`WINDOW_PARAMS`)."""
    start = float(clicks.time.min()) + (p["offset"] + p["slice"] * p["shift"]) * DAY
    train_end = start + p["days_train"] * DAY
    end = train_end + p["days_test"] * DAY
    last = clicks.end()
    early, late = last < start, last > end
    out = Window(
        clicks.keep_sessions(~early & (last < train_end)),
        clicks.keep_sessions(~late & (last >= train_end)),
        start,
        train_end,
        end,
        Drops(sessions=int(early.sum()), clicks=int(clicks.lengths[early].sum())),
        Drops(sessions=int(late.sum()), clicks=int(clicks.lengths[late].sum())),
    )
    if out.train.n_sessions == 0:
        span = (float(clicks.time.max()) - float(clicks.time.min())) / DAY
        raise DataError(
            f"window slice {p['slice']}: no training session ends in [{iso(start)}, {iso(train_end)}); the "
            f"filtered log spans {span:.1f} days: use a smaller offset, shift or n_slices"
        )
    return out


def window(events: pd.DataFrame, **params: Any) -> ProtocolResult:
    """The ``window`` protocol, one slice; see :mod:`sessrec.data.protocols.window`.

    Parameters
    ----------
    events : DataFrame
        Event table in file order (``date`` is unused). Not modified.
    **params
        :data:`WINDOW_PARAMS`: ``n_slices``, ``days_train``, ``days_test``, ``offset``,
        ``shift``, ``slice``, ``min_item_support``, ``min_session_length``, ``valid_days``.

    Returns
    -------
    ProtocolResult

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [(s, i, (s + i / 10) * 86400) for s in range(6) for i in (1, 2)]
    >>> ev = pd.DataFrame(rows, columns=["session_id", "item_id", "time"]).assign(date=0.0)
    >>> r = window(ev, n_slices=2, days_train=2, days_test=1, offset=0, shift=3, slice=1, min_item_support=1)
    >>> r.train.session_ids.tolist(), r.test.session_ids.tolist(), r.stats["window_start"][:10]
    ([3, 4], [5], '1970-01-04')
    """
    return build_window(events, check_window_params(params))


def check_window_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every ``window`` parameter checked, ``slice < n_slices`` included."""
    p = check_params("window", WINDOW_PARAMS, values)
    if p["slice"] >= p["n_slices"]:
        raise ConfigError(
            f"protocol 'window': slice must lie in 0 .. n_slices - 1 = {p['n_slices'] - 1}, got {p['slice']}"
        )
    return p


def build_window(events: pd.DataFrame, p: Mapping[str, Any]) -> ProtocolResult:
    """:func:`window` on parameters already checked by :func:`check_window_params`."""
    min_length = p["min_session_length"]
    emit("prepare", step=f"window: slice {p['slice']} of {p['n_slices']}")
    clicks, raw = order_clicks(events)
    clicks, filtered = filter_once(clicks, p["min_item_support"], min_length, first_min_length=min_length)
    require_clicks(clicks, raw.clicks, p["min_item_support"], min_length)
    w = slice_window(clicks, p)
    train = w.train.sort_sessions(w.train.start())
    catalogue, test, test_drops = catalogue_and_test(train, w.test.sort_sessions(w.test.start()), min_length)
    train, carved = carve_if_asked(train, p["valid_days"], lambda t, days: carve_valid_by_end(t, days, min_length))
    steps = {
        **filter_once_stats(*filtered),
        "slice": p["slice"],
        "n_slices": p["n_slices"],
        "window_start": iso(w.start),
        "window_train_end": iso(w.train_end),
        "window_end": iso(w.end),
        **_window_drops(w),
        **test_drops,
        **valid_stats(carved),
    }
    return finish(p, raw, catalogue, train, test, carved, steps)


def _window_drops(w: Window) -> dict[str, int]:
    return {
        "dropped_before_window_sessions": w.before.sessions,
        "dropped_before_window_clicks": w.before.clicks,
        "dropped_after_window_sessions": w.after.sessions,
        "dropped_after_window_clicks": w.after.clicks,
    }


def window_slices(params: Mapping[str, Any] | None = None, recipe: str | None = None) -> list[dict[str, Any]]:
    """The parameters of every slice of a ``window`` study: ``params`` with ``slice`` = 0 .. n_slices - 1.

    ``n_slices`` comes from ``params``, else from ``recipe``'s defaults
    (:data:`WINDOW_RECIPE_DEFAULTS`), else 5. Only ``slice`` is added, so each dict, passed to
    :func:`~sessrec.data.prepare` (``protocol="window"``) with the same recipe, prepares that slice.

    Examples
    --------
    >>> window_slices({"days_test": 2}, recipe="retailrocket")[-1]
    {'days_test': 2, 'slice': 4}
    >>> len(window_slices(recipe="synthetic"))
    3
    """
    given = dict(params or {})
    given.pop("slice", None)
    full = check_window_params({**WINDOW_RECIPE_DEFAULTS.get(recipe or "", {}), **given})
    return [{**given, "slice": k} for k in range(full["n_slices"])]
