"""``training.predict`` on sequences of spread lengths: batches of similar lengths (sorted by
length, as predict forms them) against batches in the data's order (as before), each batch
cut to its longest sequence either way; and ``encode`` of all of them in one call, in
batches of 256 by length (as it runs them) against one batch of every row (as before).

    python bench/predict_order.py                  # about 30 s on 2 cores; prints a table
    python bench/predict_order.py --n 4000 --lengths 5,300 --hidden 64

The two orders alternate, ``--repeats`` times each; medians in seconds, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sequences (default 2000)")
    parser.add_argument("--lengths", default="5,300",
                        help="lengths drawn uniformly from LO,HI (default 5,300)")
    parser.add_argument("--features", type=int, default=7)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import nongate_np as ng
    from nongate_np.cli.sysinfo import cpu_info
    from nongate_np.data import SequenceDataset
    from nongate_np.training import loop, predict

    lo, hi = (int(v) for v in args.lengths.split(","))
    rng = np.random.default_rng(0)
    lengths = rng.integers(lo, hi + 1, args.n)
    x = rng.standard_normal((args.n, hi, args.features))
    x[np.arange(hi)[None, :] >= lengths[:, None]] = 0
    tasks = [{"name": "c", "kind": "classification", "num_classes": 3}]
    data = SequenceDataset(x, lengths, {"c": rng.integers(0, 3, args.n)}, tasks)
    ng.seed(0)
    model = ng.nn.MultiTaskSequenceModel(tasks, input_size=args.features, embed_size=32,
                                         hidden_size=args.hidden, attn_size=32).eval()
    by_length = loop._by_length
    orders = {"data order": lambda data, rows: rows, "by length": by_length}
    x = data.x.astype(np.float32)
    times: dict[str, list[float]] = {name: [] for name in orders}
    predict(model, data, batch_size=args.batch_size)              # compile, warm up
    for _ in range(args.repeats):
        for name, order in orders.items():
            loop._by_length = order
            start = time.perf_counter()
            predict(model, data, batch_size=args.batch_size)
            times[name].append(time.perf_counter() - start)
    loop._by_length = by_length
    encodes = {"encode, one batch": len(x), "encode, batches by length": args.batch_size}
    for name in encodes:
        times[name] = []
    for _ in range(args.repeats):
        for name, size in encodes.items():
            start = time.perf_counter()
            model.encode(x, lengths, batch_size=size)
            times[name].append(time.perf_counter() - start)
    def steps(lens: np.ndarray, size: int) -> int:
        return sum(int(lens[i:i + size].max()) * len(lens[i:i + size])
                   for i in range(0, len(lens), size))
    padded = {"data order": steps(lengths, args.batch_size),
              "by length": steps(np.sort(lengths), args.batch_size),
              "encode, one batch": args.n * int(lengths.max()),
              "encode, batches by length": steps(np.sort(lengths), args.batch_size)}
    cpu = cpu_info()
    print(f"{cpu['model']} ({cpu['llvm_name']}, {cpu['isa']}, {cpu['usable_cpus']} CPUs); "
          f"{args.n} sequences, lengths {lo}-{hi} (mean "
          f"{lengths.mean():.0f}), F={args.features}, H={args.hidden}, batches of "
          f"{args.batch_size}, float32\n")
    print("| call | steps run | median s | speed-up |\n| --- | --- | --- | --- |")
    for name in times:
        base = statistics.median(times["encode, one batch" if "encode" in name
                                       else "data order"])
        med = statistics.median(times[name])
        print(f"| {name} | {padded[name]} | {med:.3f} | {base / med:.2f} |")


if __name__ == "__main__":
    main()
