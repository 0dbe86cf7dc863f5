"""This library as the gradient reference for a PyTorch LSTM.

What it shows, in two parts:

1. ``torch.nn.LSTM`` (float64) and ``nongate_np.nn.LSTM`` with the same weights (the state
   dict is exported as ``{k: v.detach().numpy()}``: same names, same layout, gates i|f|g|o)
   run on the same input, and every number is compared element by element by
   ``nongate_np.check.compare_arrays``: the outputs (output, h_n, c_n) and, for the same
   cotangents, the gradient of every weight and of the input. One line per array gives the
   maximum absolute and relative error and the worst element with both values (its gate,
   "block 'f'", for a weight's rows), in float64's default tolerance (|a-b| <= 1e-13 +
   1e-11·|b|: the same math summed in another order differs by rounding, ~1e-15 relative).
2. ``gradcheck(f, inputs, grad=vjp)`` checks PyTorch's own autograd of a small LSTM
   numerically by all three methods: ``f`` runs torch on NumPy arrays (in complex128 when
   gradcheck complex-steps: torch's LSTM runs with complex weights) and ``vjp`` is
   ``torch.autograd.grad``.

Run it with ``python examples/torch_lstm_gradients.py`` (``--help`` lists the sizes;
``--plant-bug`` perturbs one of torch's gradients in part 1 by one part in a million to
show the mismatch line and its gate, and in part 2, after torch's own autograd passes,
flips the sign of gate f in a claimed d weight_hh, as a hand-written backward might, to
show gradcheck naming the gate and the sign). It exits 0 when everything agrees, 1 on any
mismatch, and 2 without PyTorch (``pip install torch==2.13.0``).
"""

import argparse
import sys

import numpy as np

import nongate_np as ng
from nongate_np.check import compare_arrays, lstm_gate_blocks


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seq-len", type=int, default=7, help="T, steps per sequence (default 7)")
    p.add_argument("--batch", type=int, default=3, help="B, sequences (default 3)")
    p.add_argument("--input-size", type=int, default=5, help="I (default 5)")
    p.add_argument("--hidden-size", type=int, default=6, help="H (default 6)")
    p.add_argument("--num-layers", type=int, default=2, help="stacked layers (default 2)")
    p.add_argument("--no-bidirectional", dest="bidirectional", action="store_false",
                   help="one direction only (default: both)")
    p.add_argument("--seed", type=int, default=0, help="weights, input and cotangents")
    p.add_argument("--plant-bug", action="store_true",
                   help="scale torch's d weight_hh_l0 at one element of gate f by 1 + 1e-6 "
                        "(part 1), and check a vjp with gate f's sign flipped (part 2)")
    args = p.parse_args(argv)
    for name in ("seq_len", "batch", "input_size", "hidden_size", "num_layers"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def compare_with_torch(torch, args) -> bool:
    """Part 1: outputs and every gradient of the two LSTMs, element by element."""
    T, B, I, H = args.seq_len, args.batch, args.input_size, args.hidden_size
    torch.manual_seed(args.seed)
    theirs = torch.nn.LSTM(I, H, num_layers=args.num_layers,
                           bidirectional=args.bidirectional).double()
    ours = ng.nn.LSTM(I, H, num_layers=args.num_layers, bidirectional=args.bidirectional,
                      dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((T, B, I))
    x_ours = ng.tensor(x, requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    out_ours, (h_ours, c_ours) = ours(x_ours)
    out_theirs, (h_theirs, c_theirs) = theirs(x_theirs)

    # the same cotangents on both sides: L = <v0, output> + <v1, h_n> + <v2, c_n>
    outs_ours, outs_theirs = (out_ours, h_ours, c_ours), (out_theirs, h_theirs, c_theirs)
    vs = [rng.standard_normal(o.shape) for o in outs_ours]
    sum((o * v).sum() for o, v in zip(outs_ours, vs)).backward()
    sum((o * torch.from_numpy(v)).sum() for o, v in zip(outs_theirs, vs)).backward()

    grads_ours = {"input": x_ours.grad, **{k: p.grad for k, p in ours.named_parameters()}}
    # torch's tensors go in as they are: compare_arrays reads their values
    grads_theirs = {"input": x_theirs.grad, **{k: p.grad for k, p in theirs.named_parameters()}}
    if args.plant_bug:
        planted = grads_theirs["weight_hh_l0"] = grads_theirs["weight_hh_l0"].clone()
        planted[H + 1, 0] *= 1 + 1e-6                           # row H+1: gate f

    print(f"nongate_np (reference) vs torch {torch.__version__}, float64, "
          f"T={T} B={B} I={I} H={H} layers={args.num_layers} "
          f"bidirectional={args.bidirectional}")
    labels = ("nongate_np", "torch")
    # torch's outputs are tensors in the graph: compare_arrays detaches them
    outputs = compare_arrays(dict(zip(("output", "h_n", "c_n"), outs_ours)),
                             dict(zip(("output", "h_n", "c_n"), outs_theirs)), labels=labels)
    print(f"\nthe outputs:\n{outputs}")
    # each weight's rows stack the gates i|f|g|o: a mismatch there is named with its gate
    grads = compare_arrays(grads_ours, grads_theirs, labels=labels,
                           blocks=lstm_gate_blocks(grads_ours, H))
    print(f"\nthe gradients of L = <v0, output> + <v1, h_n> + <v2, c_n>, the same v on both "
          f"sides:\n{grads}")
    return outputs.passed and grads.passed


def gradcheck_torch(torch, args) -> bool:
    """Part 2: torch's autograd of a small LSTM, checked numerically by all three methods."""
    torch.manual_seed(args.seed)
    lstm = torch.nn.LSTM(2, 3).double()
    fixed = {k: v.detach() for k, v in lstm.named_parameters()}

    def run(x, w_hh):
        # every weight in the input's dtype: complex128 while gradcheck complex-steps
        params = {k: v.to(x.dtype) for k, v in dict(fixed, weight_hh_l0=w_hh).items()}
        return torch.func.functional_call(lstm, params, (x,))[0]

    def f(x, w_hh):                           # NumPy in, NumPy out
        dt = np.result_type(x, w_hh)
        with torch.no_grad():
            return run(torch.from_numpy(x.astype(dt)),
                       torch.from_numpy(w_hh.astype(dt))).numpy()

    def f_vjp(x, w_hh, v):                    # what torch claims: Jᵀv for both inputs
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w_hh, requires_grad=True)
        gx, gw = torch.autograd.grad(run(xt, wt), (xt, wt), torch.from_numpy(v))
        return gx.numpy(), gw.numpy()

    x = np.random.default_rng(args.seed).standard_normal((4, 2, 2))
    inputs = [x, fixed["weight_hh_l0"].numpy().copy()]
    print("\ntorch's autograd of a small LSTM (T=4, B=2, I=2, H=3), checked numerically:")
    ok = True
    for method in ("central", "complex_step", "directional"):
        report = ng.gradcheck(f, inputs, grad=f_vjp, names=["x", "weight_hh_l0"],
                              method=method, name="torch.nn.LSTM", raise_exception=False)
        print(report)
        ok &= report.passed
    if args.plant_bug:
        def flipped_vjp(x, w_hh, v):          # a hand-written backward's bug: gate f's sign
            gx, gw = f_vjp(x, w_hh, v)
            gw[3:6] *= -1                     # rows H..2H of d weight_hh: gate f (H = 3)
            return gx, gw
        print("\nthe same with gate f's sign flipped in the claimed d weight_hh_l0:")
        report = ng.gradcheck(f, inputs, grad=flipped_vjp, names=["x", "weight_hh_l0"],
                              blocks=lstm_gate_blocks(["weight_hh_l0"], 3),
                              name="torch.nn.LSTM, planted", raise_exception=False)
        print(report)
        ok &= report.passed
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("this example needs PyTorch: pip install torch==2.13.0", file=sys.stderr)
        return 2
    ok = compare_with_torch(torch, args)
    ok = gradcheck_torch(torch, args) and ok
    print(f"\n{'every value agrees' if ok else 'MISMATCH: see the FAIL lines above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
