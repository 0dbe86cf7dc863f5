"""How long ``gradcheck`` takes to pass a correct gradient and to fail a grossly wrong one,
on an LSTM layer (NumPy reference kernels, float64) whose claimed gradient is nongate_np's
own backward, once as it is and once with a bug planted in one gate block of dW_hh.

    python bench/gradcheck_speed.py                      # T=6 B=3 I=8 H=12, all bugs
    python bench/gradcheck_speed.py --hidden 16 --repeat 5

A failure should cost about what a pass costs: the element-wise central check runs in
both (the directional check fails first), and only the elements the default step fails
go down the step ladder (``gradcheck._step_ladder``). Prints the median wall time of each
case in seconds and the number of evaluations of fn, with the report's failing/worst
lines, so that a faster run can be seen to report the same elements.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import nongate_np as ng
from nongate_np.ops.lstm import lstm_layer

# what is planted in dW_hh: in its gate block f (rows H..2H) the sign or a factor, the
# whole gradient doubled, or one element of block f 50 % off
BUGS = {
    "none": lambda g, H: g,
    "sign, block f": lambda g, H: np.concatenate([g[:H], -g[H:2 * H], g[2 * H:]]),
    "x2, block f": lambda g, H: np.concatenate([g[:H], 2 * g[H:2 * H], g[2 * H:]]),
    "x2, all": lambda g, H: 2 * g,
    "one element": lambda g, H: np.where(np.arange(g.size).reshape(g.shape) == H * g.shape[1],
                                         1.5 * g, g),
}


def problem(T: int, B: int, I: int, H: int, seed: int = 0):
    """An LSTM layer as f(x, w_hh) on ndarrays and the vjp nongate_np's backward gives."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I))
    w_ih = rng.standard_normal((4 * H, I)) / np.sqrt(I)
    w_hh = rng.standard_normal((4 * H, H)) / np.sqrt(H)
    h0, c0 = np.zeros((B, H)), np.zeros((B, H))
    calls = [0]

    def f(x, w_hh):
        calls[0] += 1
        with ng.no_grad():
            return lstm_layer(ng.tensor(x), h0, c0, w_ih, ng.tensor(w_hh))[0].numpy()

    def vjp(x, w_hh, v):
        xt, wt = ng.tensor(x, requires_grad=True), ng.tensor(w_hh, requires_grad=True)
        (lstm_layer(xt, h0, c0, w_ih, wt)[0] * ng.tensor(v)).sum().backward()
        return xt.grad, wt.grad

    return f, vjp, [x, w_hh], calls


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=3)
    p.add_argument("--inputs", type=int, default=8)
    p.add_argument("--hidden", type=int, default=12)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--method", default="directional")
    args = p.parse_args(argv)
    H = args.hidden
    with ng.backend("numpy"):
        for bug, plant in BUGS.items():
            f, vjp, inputs, calls = problem(args.steps, args.batch, args.inputs, H)

            def claimed(x, w_hh, v, vjp=vjp, plant=plant):
                gx, gw = vjp(x, w_hh, v)
                return gx, plant(gw, H)

            times = []
            for _ in range(args.repeat):
                calls[0] = 0
                start = time.perf_counter()
                report = ng.gradcheck(f, inputs, grad=claimed, names=["x", "w_hh"],
                                      method=args.method, raise_exception=False)
                times.append(time.perf_counter() - start)
            print(f"{bug:14s} {'pass' if report.passed else 'FAIL'}  "
                  f"{statistics.median(times):6.2f} s  {calls[0]} evaluations of f")
            if not report.passed:
                print("\n".join("    " + s for s in str(report).splitlines()
                                if s.strip().startswith(("failing", "worst"))))


if __name__ == "__main__":
    main()
