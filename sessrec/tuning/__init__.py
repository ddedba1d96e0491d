"""Tuning on a validation split: search spaces, Optuna studies, tuned parameter sets.

``tune`` (``sessrec tune``) gives every model the same budget on a validation split carved
from the training part by the protocol's own rule (:mod:`sessrec.tuning.data`); search
spaces are data shipped with each model (:mod:`sessrec.tuning.spaces`); the best parameters
become a named parameter set of the study (:mod:`sessrec.tuning.paramsets`), refitted on the
whole training part by ``sessrec run -p MODEL=tuned``. Optuna is an optional extra
(``pip install -e ".[tune]"``).
"""

from sessrec.tuning.data import TuningData, default_valid_days, prepare_tuning
from sessrec.tuning.paramsets import TUNED, load_tuned, tuned_path
from sessrec.tuning.spaces import Dimension, SearchSpace, find_space_file, load_space
from sessrec.tuning.tune import tune
from sessrec.tuning.tuner import TuneResult, TuneSettings, tune_model

__all__ = [
    "TUNED",
    "Dimension",
    "SearchSpace",
    "TuneResult",
    "TuneSettings",
    "TuningData",
    "default_valid_days",
    "find_space_file",
    "load_space",
    "load_tuned",
    "prepare_tuning",
    "tune",
    "tune_model",
    "tuned_path",
]
