"""Scores and losses of every learning baseline on a small synthetic log, saved for a bit-for-bit comparison.

Run it in two checkouts (e.g. before and after a refactoring) and compare::

    PYTHONPATH=OLD:OLD/baselines python tests/perf/models_identity.py save /tmp/old.npz
    python tests/perf/models_identity.py save /tmp/new.npz
    python tests/perf/models_identity.py compare /tmp/old.npz /tmp/new.npz

Every catalogue item of the log has a training click, so the rule for untrained items plays
no part. Result of the public-model-contract refactoring (2026-11-30, old = commit 2836cd3):
all 23 arrays (scores, whole-session scores and per-epoch losses of GRU4Rec in two settings,
NARM in three, BPR-MF, FPMC, Item-KNN) identical.
"""

import sys

import numpy as np
import torch
from sessrec_baselines.bprmf import BPRMF
from sessrec_baselines.fpmc import FPMC
from sessrec_baselines.gru4rec import GRU4Rec
from sessrec_baselines.iknn import ItemKNN
from sessrec_baselines.narm import NARM

from sessrec import PrefixBatch
from sessrec.data import prepare


def save(path: str) -> None:
    torch.set_num_threads(1)
    ds = prepare("synthetic", n_sessions=1500, n_items=120, cache=False)
    tr, te = ds.train, ds.test
    assert (tr.item_counts() > 0).all()
    batch, _ = next(te.prefix_batches(300))
    sess = PrefixBatch.from_ranges(te.items, te.offsets[:-1][:40], te.lengths[:40])
    models = {
        "gru4rec": GRU4Rec(
            layers=(32,),
            n_sample=64,
            batch_size=16,
            epochs=2,
            sample_cache_max_size=4096,
            loss="cross-entropy",
            logq=1.0,
            sample_alpha=0.3,
            dropout_p_hidden=0.2,
        ),
        "gru4rec_bprmax": GRU4Rec.from_paramfile(
            "diginetica-bprmax", layers=(32,), n_sample=64, epochs=2, sample_cache_max_size=4096
        ),
        "narm": NARM(embedding_dim=16, hidden_size=16, epochs=2, batch_size=64),
        "narm_authors": NARM(
            embedding_dim=16,
            hidden_size=16,
            epochs=2,
            batch_size=64,
            attention_norm="softmax",
            attention_activation="hard_sigmoid",
            init="authors",
            gru="authors",
            training="prefixes",
            dropout_scaling="test",
            valid_split="random_cases",
        ),
        "narm_time": NARM(
            embedding_dim=16, hidden_size=16, epochs=2, batch_size=64, valid_split="time", truncate="last", max_len=3
        ),
        "bprmf": BPRMF(n_factors=16, epochs=2, batch_size=256),
        "fpmc": FPMC(n_factors=16, epochs=2, batch_size=256),
        "iknn": ItemKNN(),
    }
    out = {}
    for name, m in models.items():
        if name != "iknn":
            m.set_params(device="cpu", random_state=0)
        m.fit(tr)
        out[name] = m.score(batch).numpy()
        if hasattr(m, "score_sessions"):
            out[name + "_sessions"] = m.score_sessions(sess).numpy()
        if hasattr(m, "history_"):
            out[name + "_loss"] = np.array([h["loss"] for h in m.history_])
    np.savez(path, **out)
    print("saved", path)


def compare(a_path: str, b_path: str) -> None:
    a, b = np.load(a_path), np.load(b_path)
    assert sorted(a.files) == sorted(b.files), "different sets of arrays"
    for key in sorted(a.files):
        same = np.array_equal(a[key], b[key])
        diff = 0.0 if same else float(np.abs(a[key] - b[key]).max())
        print(f"{key:28s} {'identical' if same else f'DIFFERENT, max abs diff {diff:.3g}'}")


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[2])
    else:
        compare(sys.argv[2], sys.argv[3])
