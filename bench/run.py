"""Performance yardsticks of nongate_np against PyTorch CPU (and ONNX Runtime).

Usage::

    python bench/run.py                       # full run: S1 S3 M1 M2 L1 L2, 5 repeats
    python bench/run.py --quick               # S1 M1 float32, ours vs torch (about 20 s)
    python bench/run.py --configs S1,M1 --out bench/results/latest.json

A checkout's entry point to :mod:`nongate_np.benchmark` (installed: ``nongate-np bench``),
which holds the harness, the configurations (``nongate_np/benchmark/configs.py``) and the
method (``nongate_np/benchmark/run.py``). Here the raw results go to
``bench/results/latest.json`` unless ``--out`` says otherwise; results are discussed in
``bench/RESULTS.md``.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))      # this checkout's package, installed or not

from nongate_np.benchmark import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_out=os.path.join(HERE, "results", "latest.json")))
