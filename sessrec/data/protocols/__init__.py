"""Evaluation protocols: event table in, train/test(/valid) :class:`~sessrec.data.sessions.Sessions` out.

The published numbers of the field depend on these rules, so each is named and drawn. A
protocol is a pure function of an *event table*, a :class:`pandas.DataFrame` in file order
with the columns

==============  =========================================================================
``session_id``  int64 session key (external)
``item_id``     int64 (or str) external item id
``time``        float64 seconds; orders clicks inside a session; the time splits
``date``        float64 seconds; the ``narm`` session date is the ``date`` of the
                session's last row in file order (DIGINETICA: midnight of ``eventdate``;
                YOOCHOOSE: the click time truncated to the second; others: session end)
==============  =========================================================================

and returns a :class:`ProtocolResult`: train, test and optional validation sessions over one
:class:`~sessrec.data.index.ItemIndex`, the parameters, and statistics that include how many
sessions, clicks and items each rule dropped (keys ``dropped_<rule>_<unit>``).

Protocols (each module draws its timeline):

* ``narm`` (default, :mod:`~sessrec.data.protocols.narm`) — SR-GNN ``preprocess.py``, NARM Table 1.
* ``gru4rec`` (:mod:`~sessrec.data.protocols.gru4rec`) — hidasib/GRU4Rec's comparison scripts.
* ``gru4rec-rsc15`` (:mod:`~sessrec.data.protocols.rsc15`) — the official GRU4Rec RSC15 split.
* ``window`` (:mod:`~sessrec.data.protocols.window`) — session-rec's sliding windows, one slice
  per split; :func:`window_slices` lists a study's slices.

Every protocol is a short composition of named steps, one module per concept; each step
returns its result and the counts of what it removed (:class:`~.counts.Drops`), and the
protocol builds its statistics once, at the end:

==============================  ===============================================================
:mod:`~.clicks`                 the :class:`~.clicks.Clicks` table; rule *order*
:mod:`~.filters`                repeats, session length, item support (one pass / iterated)
:mod:`~.splits`                 split by date, by session start, by session end
:mod:`~.assemble`               item catalogue, unseen-item removal, final ``Sessions``
:mod:`~.validation`             carving validation from train by each time rule
:mod:`~.compose`                the shared last steps and the one place statistics are put together
:mod:`~.fraction`               the case fraction (YOOCHOOSE 1/64, 1/4)
:mod:`~.window`                 slicing sliding windows, and the ``window`` protocol
:mod:`~.params`                 parameter specs, checked once; text coercion for the CLI layer
:mod:`~.registry`               protocols by name, :func:`run_protocol`
==============================  ===============================================================
"""

from sessrec.data.protocols.clicks import EVENT_COLUMNS
from sessrec.data.protocols.clicks import _session_order as _session_order  # imported by the tests
from sessrec.data.protocols.counts import Drops
from sessrec.data.protocols.gru4rec import gru4rec
from sessrec.data.protocols.narm import narm
from sessrec.data.protocols.params import Param
from sessrec.data.protocols.params import _flag as _flag  # the csv recipe's own boolean options
from sessrec.data.protocols.registry import (
    PROTOCOL_SPECS,
    PROTOCOLS,
    ProtocolSpec,
    check_protocol_params,
    coerce_protocol_params,
    protocol_params,
    protocol_spec,
    run_protocol,
)
from sessrec.data.protocols.result import ProtocolResult
from sessrec.data.protocols.rsc15 import gru4rec_rsc15
from sessrec.data.protocols.window import window, window_slices

__all__ = [
    "EVENT_COLUMNS",
    "PROTOCOLS",
    "PROTOCOL_SPECS",
    "Drops",
    "Param",
    "ProtocolResult",
    "ProtocolSpec",
    "check_protocol_params",
    "coerce_protocol_params",
    "gru4rec",
    "gru4rec_rsc15",
    "narm",
    "protocol_params",
    "protocol_spec",
    "run_protocol",
    "window",
    "window_slices",
]
