#!/usr/bin/env python3
"""Single-precision matrix-multiply rate of this machine's cores (numpy's BLAS), the yardstick for a
CPU inference engine: a convolutional network cannot run faster than its FLOPs at this rate.

    python3 tools/peak_gflops.py [threads]

ResNet-18 at 224 px is 1.82 G multiply-adds = 3.64 GFLOP per image, so img/s x 3.64 = the GFLOP/s an
engine reaches (e.g. 100 img/s = 364 GFLOP/s).
"""
import os
import sys
import time

threads = sys.argv[1] if len(sys.argv) > 1 else str(os.cpu_count())
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = threads
import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads at load)

n = 2048
a = np.random.rand(n, n).astype(np.float32)
b = np.random.rand(n, n).astype(np.float32)
a @ b  # warm-up
best = 0.0
for _ in range(5):
    t0 = time.perf_counter()
    for _ in range(5):
        a @ b
    dt = (time.perf_counter() - t0) / 5
    best = max(best, 2 * n ** 3 / dt / 1e9)
print(f"sgemm {n}x{n} on {threads} threads: {best:.0f} GFLOP/s (best of 5); "
      f"ResNet-18 @224 (3.64 GFLOP/img) at that rate: {best / 3.64:.0f} img/s")
