"""Test-session settings shared by ``tests/`` and ``baselines/tests/``.

The test models are tiny, so torch's intra-op threads only add synchronisation: one thread
keeps the suite fast and its timings steady on small CI machines. Benchmarks in
``tests/perf/`` are scripts with their own ``--threads`` option and are not affected.
"""

import torch

torch.set_num_threads(1)

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _ieee_float32_in_cuda_tests(request: pytest.FixtureRequest):
    """CUDA-marked tests run in IEEE float32, and everything else is left as torch sets it.

    Those tests compare GPU scores with CPU scores, or one code path with another, at float32
    tolerances. torch's default lets cuDNN's recurrent layers use TF32 (``torch.backends.cudnn.rnn
    .fp32_precision == "tf32"``: 10-bit mantissas), which moves a GRU's scores by about 1e-3.
    The models keep torch's defaults outside the tests.
    """
    if request.node.get_closest_marker("cuda") is None or not torch.cuda.is_available():
        yield
        return
    if hasattr(getattr(torch.backends.cudnn, "rnn", None), "fp32_precision"):
        backends = (torch.backends.cudnn.rnn, torch.backends.cudnn.conv, torch.backends.cuda.matmul)
        saved = [b.fp32_precision for b in backends]
        for b in backends:
            b.fp32_precision = "ieee"
        try:
            yield
        finally:
            for b, value in zip(backends, saved, strict=True):
                b.fp32_precision = value
    else:  # pragma: no cover - torch < 2.9
        saved_flags = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved_flags
