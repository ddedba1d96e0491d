"""What BPR-MF and FPMC share: seeded training (same seed, same scores; another seed, other scores)."""

import pytest
import torch
from sessrec_baselines.bprmf import BPRMF
from sessrec_baselines.fpmc import FPMC

from sessrec import PrefixBatch
from sessrec.testing import sequence_oracle, session_oracle


@pytest.mark.parametrize(("cls", "oracle"), [(BPRMF, session_oracle), (FPMC, sequence_oracle)], ids=["bprmf", "fpmc"])
def test_seeded_and_reproducible(cls, oracle):
    train, _ = oracle(seed=3)
    batch = PrefixBatch.from_lists([[1, 2], [7]])
    a = cls(n_factors=8, epochs=2, device="cpu", random_state=5).fit(train).score(batch)
    b = cls(n_factors=8, epochs=2, device="cpu", random_state=5).fit(train).score(batch)
    c = cls(n_factors=8, epochs=2, device="cpu", random_state=6).fit(train).score(batch)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
