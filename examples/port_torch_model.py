"""A PyTorch sequence model served without PyTorch: port, check, save, load, encode.

The model: ``nn.LSTM`` (batch-first, any layers and directions), gated attention pooling
over its outputs and a linear head, written once in PyTorch and once with
``nongate_np.nn`` (same parameter names and layout, so the state dict carries over as it
is). What it does, in order:

1. (with PyTorch) makes the PyTorch model and writes its weights as plain arrays
   (``np.savez`` of ``{k: v.numpy()}``: no pickle), then runs it on padded sequences;
2. (no PyTorch needed) builds the nongate_np model, loads those arrays, runs it on the
   same sequences and compares every logit with PyTorch's, in float32;
3. saves the nongate_np model with ``ng.save`` (its class registered with
   ``register_savable``, its constructor's arguments in ``config()``), loads it back with
   ``ng.load`` and checks the logits and the ``encode()`` vectors are the same.

Run it with ``python examples/port_torch_model.py`` (``--help`` for the sizes and
``--out DIR`` to keep the files). Without PyTorch it stops after saying so (exit 2). It
exits 0 when every number agrees, 1 otherwise.
"""

import argparse
import pathlib
import sys
import tempfile

import numpy as np

import nongate_np as ng

# float32 on both sides: the same math summed in another order differs by rounding
RTOL, ATOL = 1e-4, 1e-5


@ng.nn.register_savable
class SequenceClassifier(ng.nn.Module):
    """LSTM -> gated attention pooling -> linear head, on (B, T, I) batch-first input."""

    def __init__(self, input_size, hidden_size, num_classes, num_layers=1,
                 bidirectional=False, attention_size=16, dtype="float32"):
        super().__init__()
        self.lstm = ng.nn.LSTM(input_size, hidden_size, num_layers=num_layers,
                               bidirectional=bidirectional, batch_first=True, dtype=dtype)
        width = hidden_size * (2 if bidirectional else 1)
        self.pool = ng.nn.AttentionPooling(width, attention_size, kind="gated", dtype=dtype)
        self.head = ng.nn.Linear(width, num_classes, dtype=dtype)

    def config(self):
        """The constructor's arguments, for ng.save / ng.load (JSON values only)."""
        return {"input_size": self.lstm.input_size, "hidden_size": self.lstm.hidden_size,
                "num_classes": self.head.out_features, "num_layers": self.lstm.num_layers,
                "bidirectional": self.lstm.bidirectional,
                "attention_size": self.pool.attn_size, "dtype": str(self.head.weight.dtype)}

    def encode(self, x, lengths):
        """The pooled vector of each sequence, (B, width) float array, without a graph."""
        with ng.no_grad():
            y, _ = self.lstm(x, lengths=lengths)
            pooled, _ = self.pool(y, lengths=lengths)
        return pooled.numpy()[:, 0]

    def forward(self, x, lengths):
        y, _ = self.lstm(x, lengths=lengths)
        pooled, _ = self.pool(y, lengths=lengths)
        return self.head(pooled[:, 0])


def torch_model(args):
    """The same model in PyTorch, and its logits on padded sequences (lengths masked)."""
    import torch

    class TorchSequenceClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(args.input_size, args.hidden_size, args.num_layers,
                                      batch_first=True, bidirectional=args.bidirectional)
            width = args.hidden_size * (2 if args.bidirectional else 1)
            # nongate_np's AttentionPooling names: proj, gate (Linear) and query (1, A)
            self.pool = torch.nn.Module()
            self.pool.proj = torch.nn.Linear(width, args.attention_size)
            self.pool.gate = torch.nn.Linear(width, args.attention_size)
            self.pool.query = torch.nn.Parameter(torch.randn(1, args.attention_size) * 0.3)
            self.head = torch.nn.Linear(width, args.num_classes)

        def forward(self, x, lengths):
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
            y, _ = self.lstm(packed)
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=True,
                                                          total_length=x.shape[1])
            u = torch.tanh(self.pool.proj(y)) * torch.sigmoid(self.pool.gate(y))  # (B, T, A)
            scores = (u @ self.pool.query.T)[..., 0]                               # (B, T)
            steps = torch.arange(x.shape[1])[None, :] < torch.as_tensor(lengths)[:, None]
            w = torch.softmax(scores.masked_fill(~steps, float("-inf")), dim=1)
            return self.head((w[..., None] * y).sum(dim=1))

    torch.manual_seed(args.seed)
    return TorchSequenceClassifier().eval()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input-size", type=int, default=4, help="I, features per step (4)")
    p.add_argument("--hidden-size", type=int, default=16, help="H (16)")
    p.add_argument("--num-layers", type=int, default=2, help="stacked layers (2)")
    p.add_argument("--no-bidirectional", dest="bidirectional", action="store_false",
                   help="one direction only (default: both)")
    p.add_argument("--attention-size", type=int, default=8, help="A (8)")
    p.add_argument("--num-classes", type=int, default=3, help="outputs of the head (3)")
    p.add_argument("--seed", type=int, default=0, help="weights and sequences (0)")
    p.add_argument("--out", type=pathlib.Path, default=None,
                   help="folder for the weights and the checkpoint (default: a temporary one)")
    args = p.parse_args(argv)
    for name in ("input_size", "hidden_size", "num_layers", "attention_size", "num_classes"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def compare(what: str, ours: np.ndarray, theirs: np.ndarray) -> bool:
    err = float(np.max(np.abs(ours - theirs)))
    ok = bool(np.allclose(ours, theirs, rtol=RTOL, atol=ATOL))
    print(f"{what:<40} max abs difference {err:.2e}  {'ok' if ok else 'FAIL'}")
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("port_torch_model: PyTorch is needed to make the model to port "
              "(pip install torch==2.13.0)", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    lengths = np.array([9, 4, 1, 7])
    x = rng.standard_normal((len(lengths), 9, args.input_size)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or pathlib.Path(tmp)
        out.mkdir(parents=True, exist_ok=True)

        # 1. PyTorch: the weights as plain arrays, and the logits to match
        model_t = torch_model(args)
        np.savez(out / "weights.npz",
                 **{k: v.detach().numpy() for k, v in model_t.state_dict().items()})
        with torch.no_grad():
            logits_t = model_t(torch.from_numpy(x), lengths).numpy()

        # 2. nongate_np: the same model, the same weights (np.load: no pickle)
        model = SequenceClassifier(args.input_size, args.hidden_size, args.num_classes,
                                   args.num_layers, args.bidirectional, args.attention_size)
        with np.load(out / "weights.npz") as weights:
            print(model.load_state_dict(dict(weights)))
        model.eval()
        with ng.no_grad():
            logits = model(x, lengths).numpy()
        ok = compare("logits, nongate_np against PyTorch", logits, logits_t)

        # 3. save, load (only registered classes are rebuilt), the same numbers again
        ng.save(model, out / "model.npz")
        loaded = ng.load(out / "model.npz").model.eval()
        with ng.no_grad():
            ok &= compare("logits after ng.save / ng.load", loaded(x, lengths).numpy(), logits)
        ok &= compare("encode() after ng.save / ng.load", loaded.encode(x, lengths),
                      model.encode(x, lengths))
        if args.out:
            print(f"files in {out}: weights.npz (from PyTorch), model.npz (nongate_np "
                  f"checkpoint)")
    print("all numbers agree" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
