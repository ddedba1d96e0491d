"""Test-session settings shared by ``tests/`` and ``baselines/tests/``.

The test models are tiny, so torch's intra-op threads only add synchronisation: one thread
keeps the suite fast and its timings steady on small CI machines. Benchmarks in
``tests/perf/`` are scripts with their own ``--threads`` option and are not affected.
"""

import torch

torch.set_num_threads(1)
