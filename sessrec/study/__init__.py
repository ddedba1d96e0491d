"""The study configuration: what a study runs, as a library object shared by the CLI and notebooks.

A :class:`StudyConfig` says which models (with which parameters) run on which dataset,
protocol, seeds, cutoffs, tie rule and device, and where the study folder is. It is read
from TOML (:meth:`StudyConfig.from_toml`), takes command-line overrides
(:meth:`StudyConfig.with_overrides`), is checked completely before any data is read
(:meth:`StudyConfig.validate`), expands to :class:`~sessrec.runner.RunSpec` s
(:meth:`StudyConfig.specs`) and writes itself back (:meth:`StudyConfig.to_toml`).

The file format (``experiment.toml``)::

    [study]
    models = ["pop", "iknn"]          # names from `sessrec models`
    dataset = "diginetica"            # a recipe from `sessrec datasets`
    seeds = [0, 1, 2]
    cutoffs = [5, 10, 20]
    ties = "conservative"             # or "optimistic", "median"
    device = "auto"                   # cpu, cuda, cuda:N, mps
    protocol = "narm"                 # optional; the recipe's default otherwise
    test_days = 1                     # optional; the recipe's default otherwise
    valid_days = 1                    # optional
    out = "reports/diginetica"        # optional; reports/<dataset> otherwise
    data_dir = "datasets"             # optional; $SESSREC_DATA or ./datasets otherwise

    [dataset_options]                 # recipe options and protocol parameters
    path = "train-item-views.csv"

    [params.iknn]                     # a model's hyperparameters
    n_neighbors = 50

    [param_sets]                      # a model's named parameter set
    gru4rec = "diginetica-bprmax"

Unknown sections and keys, values of the wrong type, unknown models, unknown or invalid
model parameters and unknown dataset options are each one :class:`~sessrec.errors.ConfigError`
naming the file, the key and the valid choices (with a close match when there is one).

**The study folder's record.** ``sessrec run`` writes ``experiment.toml`` into the study
folder so that the folder says how to rerun it. A folder may be filled by several
invocations (``--models pop`` today, ``--models iknn`` tomorrow); the file then keeps one
entry per distinct invocation (a ``[[study]]`` array of tables, each with its own
``dataset_options``, ``params`` and ``param_sets`` sub-tables), so that it describes exactly
the runs of the study — no more (a union of models and seeds would add runs nobody asked
for) and no fewer. Invocations that can be folded into one entry without changing the set of
runs are folded (:func:`merge_configs`): new models over the same seeds and data settings,
new seeds for the same models, or a rerun of runs already described. Read such a file with
:func:`read_study`, which returns every entry.

Where things live: :mod:`sessrec.study.config` (the object and its checks),
:mod:`sessrec.study.values` (command-line text parsed, settings and dataset options checked
and coerced), :mod:`sessrec.study.files` (reading, writing and the study folder's record),
:mod:`sessrec.study.running` (specs of several entries, folder checks, running).

Examples
--------
>>> cfg = StudyConfig(models=("pop", "bprmf"), seeds=(0, 1), dataset_options={"n_sessions": "300"})
>>> cfg = cfg.validate()
>>> cfg.dataset_options["n_sessions"]  # coerced by the recipe's signature
300
>>> [(s.model, s.seed) for s in cfg.specs()]  # pop is deterministic: it runs once
[('pop', 0), ('bprmf', 0), ('bprmf', 1)]
>>> StudyConfig.from_text(cfg.to_toml()) == cfg
True
>>> StudyConfig.from_text("[study]\\nseed = [0, 1]\\n", source="typo.toml")
Traceback (most recent call last):
...
sessrec.errors.ConfigError: typo.toml: unknown key 'seed' in [study] (did you mean 'seeds'?); valid keys: cutoffs, data_dir, dataset, device, models, out, protocol, seeds, test_days, ties, valid_days
"""  # noqa: E501

from sessrec.study.config import StudyConfig
from sessrec.study.files import merge_configs, read_study, record_study, write_study
from sessrec.study.running import check_writable_dir, run_configs, specs_of
from sessrec.study.values import (
    SECTIONS,
    STUDY_KEYS,
    check_days,
    coerce_dataset_options,
    named_params,
    parse_value,
)

__all__ = [
    "SECTIONS",
    "STUDY_KEYS",
    "StudyConfig",
    "check_days",
    "check_writable_dir",
    "coerce_dataset_options",
    "merge_configs",
    "named_params",
    "parse_value",
    "read_study",
    "record_study",
    "run_configs",
    "specs_of",
    "write_study",
]
