"""The benchmark: nongate_np's LSTM against PyTorch CPU (and ONNX Runtime), side by side;
its GRU too when asked (``--tasks gru_infer,gru_train``: not in a full run's default tasks).

Run it as ``nongate-np bench [--quick]``, ``python -m nongate_np.benchmark`` or, from a
checkout, ``python bench/run.py``; each contender runs in its own worker process
(``python -m nongate_np.benchmark --worker ...``). ``--quick`` takes about 20 s on 2 cores
(a first run compiles the kernels too: about 10 s more); a full run, many minutes. The
comparison needs the ``bench`` extra's packages (``nongate_np.extras.install_hint("bench")``
says how: torch pinned, from its CPU index); without torch only ours is timed.

* :mod:`.configs`: the model sizes (the CONFIGS table), tasks, contenders and goals;
* :mod:`.run`: the options, the order of the workers, the method;
* :mod:`.workers`: what each worker process measures;
* :mod:`.report`: the ratios and the Markdown report.
"""

from .configs import CONFIGS, CONTENDERS, DTYPES, TASKS
from .run import BenchmarkError, add_arguments, build_parser, main, run

__all__ = ["main", "run", "add_arguments", "build_parser", "BenchmarkError", "CONFIGS",
           "TASKS", "DTYPES", "CONTENDERS"]
