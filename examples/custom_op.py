"""A custom op with a hand-written backward, checked by gradcheck three ways.

What it shows: how to define a differentiable op with ``nongate_np.Function`` (``forward``
and ``backward`` on ndarrays, ``ctx.save_for_backward`` / ``ctx.saved``, ``ctx.needs_grad``),
how to check its backward with ``nongate_np.gradcheck`` by central differences, complex-step
and the directional method, and what the report says when the backward is wrong (a planted
bug in one of the two gradients).

The op is PyTorch's softplus with the sharpness β as a second, differentiable input:

    softplus(x; β) = log(1 + exp(β x)) / β
    ∂y/∂x = σ(β x)                ∂y/∂β = (x σ(β x) − y) / β

computed without overflow for any finite input, log(1 + e^z) = max(z, 0) + log1p(e^−|z|).
Complex-step evaluates the op at complex inputs: the branch is chosen by the real part, and
both branches are the same analytic function, so the derivative it measures is exact.

Run it with ``python examples/custom_op.py``. It prints the three passing reports, then the
report of the buggy variant, and exits 0 when the correct op passes every check and the
planted bug is caught (1 otherwise).
"""

import argparse
import sys

import numpy as np

import nongate_np as ng

METHODS = ("central", "complex_step", "directional")


def log1p_exp(z):
    """log(1 + e^z) for real or complex z, never overflowing (the branch follows Re z)."""
    positive = z.real > 0
    w = np.where(positive, -z, z)             # Re w <= 0, so e^w <= 1
    return np.log1p(np.exp(w)) + np.where(positive, z, 0)


def sigmoid(z):
    """σ(z) = 1 / (1 + e^−z) for real or complex z, never overflowing."""
    positive = z.real > 0
    e = np.exp(np.where(positive, -z, z))
    return np.where(positive, 1 / (1 + e), e / (1 + e))


class Softplus(ng.Function):
    """y = log(1 + exp(β x)) / β, elementwise; x any shape, β a scalar (0-d).

    Saved for backward: x, β and y (so backward evaluates σ(β x) once and nothing else).
    """

    @staticmethod
    def forward(ctx, x, beta):
        y = log1p_exp(beta * x) / beta
        ctx.save_for_backward(x, beta, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, beta, y = ctx.saved
        s = sigmoid(beta * x)
        dx = dy * s if ctx.needs_grad[0] else None
        # β is a scalar broadcast over x: its gradient sums over every element
        dbeta = np.sum(dy * (x * s - y) / beta) if ctx.needs_grad[1] else None
        return dx, dbeta


class SoftplusBuggy(Softplus):
    """The planted bug: ∂y/∂β without its −y/β term (∂y/∂x is still right)."""

    @staticmethod
    def backward(ctx, dy):
        x, beta, y = ctx.saved
        s = sigmoid(beta * x)
        return dy * s, np.sum(dy * x * s / beta)


def main(argv=None) -> int:
    # no options: the parser gives the examples' common --help, and names a mistyped option
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    rng = np.random.default_rng(0)
    # both branches, and |β x| up to ~90 where a naive log(1 + exp(β x)) overflows in float32
    x = np.concatenate([rng.standard_normal(10) * 3, [-60.0, -0.5, 0.0, 0.5, 60.0]])
    beta = np.array(1.5)
    inputs, names = [x, beta], ["x", "beta"]

    y = Softplus.apply(ng.tensor(x), 1.5)     # β as a Python float: needs_grad[1] is False
    print(f"softplus(x; 1.5) against np.logaddexp(0, 1.5 x) / 1.5: max abs difference "
          f"{np.max(np.abs(y.data - np.logaddexp(0, 1.5 * x) / 1.5)):.1e}\n")

    passed = True
    for method in METHODS:
        report = ng.gradcheck(Softplus.apply, inputs, names=names, method=method,
                              name="softplus", raise_exception=False)
        print(report, end="\n\n")
        passed = passed and report.passed

    print("The planted bug, dβ without its -y/β term, checked by central differences:\n")
    buggy = ng.gradcheck(SoftplusBuggy.apply, inputs, names=names, method="central",
                         name="softplus_buggy", raise_exception=False)
    print(buggy)
    caught = [r.name for r in buggy.inputs if not r.passed] == ["beta"]

    print(f"\ncorrect op passes all three checks: {'yes' if passed else 'NO'}; "
          f"planted bug caught in beta only: {'yes' if caught else 'NO'}")
    return 0 if passed and caught else 1


if __name__ == "__main__":
    sys.exit(main())
