"""The tuning knobs of the Numba backend, and context managers that force a path.

Every size from which the backend changes strategy is here, named after what it bounds, so
retuning for another machine means editing one file (the measurements behind each value:
bench/KERNEL_NOTES.md). None of them changes what a kernel computes beyond the rounding
that a different split or BLAS path gives; each path is deterministic for a fixed thread
count. A forked child runs the serial paths whatever the knobs say
(``threads.parallel_chunks``).

The kernels read the knobs at every call (``tuning.STEP_SPLIT_MIN_MACS``, never imported by
name), so ``override`` and the ``force_*`` context managers take effect on the next call.
Like the BLAS thread count (``threads.py``), an override is process-wide: it is meant for
tests and benchmarks, not for code that runs kernels on several Python threads at once.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import llvmlite.binding as ll


def _amd_zen() -> bool:
    """Whether this machine's CPU is one of AMD's Zen cores (LLVM names them ``znver*``):
    the hardware's own, whatever target Numba compiles for."""
    return ll.get_host_cpu_name().startswith("znver")


#: Multiply-adds of the recurrent products of one step-loop call (T·B·P·4H) from which its
#: batch rows are split over the threads (``threads.batch_chunks``); below it the threads'
#: start and join and the smaller products cost more than the split saves
#: (bench/KERNEL_NOTES.md, "Step loop: parallel threshold").
STEP_SPLIT_MIN_MACS = 3_000_000

#: Widest input (I, features per step) for which the step loop makes the input term
#: x_t W_ihᵀ itself, step by step, with W_ihᵀ packed once (docs/math.md K5); wider inputs
#: get one product before the loop. The packed kernel keeps a whole panel of I rows in L1
#: cache, which stops paying beyond this (bench/KERNEL_NOTES.md, "Step loop: input term
#: inside the loop").
STEP_PROJECTION_MAX_INPUTS = 256
#: Fewest rows a chunk of the step loop needs to make the input term itself: on one row
#: each weight the packed kernel loads serves one multiply-add, and W_ihᵀ, read again at
#: every step, costs more than one product before the loop (bench/KERNEL_NOTES.md, "Step
#: loop: input term on few rows").
STEP_PROJECTION_MIN_ROWS = 2
#: On chunks of just ``STEP_PROJECTION_MIN_ROWS`` rows, the most elements (I·4H) W_ihᵀ may
#: have for the loop to make the input term (same note).
STEP_PROJECTION_MIN_ROWS_MAX_WEIGHTS = 32768

#: Multiply-adds of one product (M·K·N) from which ``gemm.matmul`` splits it over the
#: threads; below it one BLAS call on the calling thread costs less than the split
#: (bench/KERNEL_NOTES.md, "Products: parallel threshold").
PRODUCT_SPLIT_MIN_MACS = 2_000_000
#: Bytes of a split product's result from which ``gemm.matmul`` splits a product with a
#: transposed left operand (the weight gradients δᵀX) by rows of the result, like the
#: others, and not by the reduction index: that split writes a partial result per extra
#: chunk and adds it in one more pass, which goes to memory at these sizes
#: (bench/KERNEL_NOTES.md, "Products: parallel threshold").
PRODUCT_ROWS_MIN_BYTES = 8 << 20

#: Multiply-adds of one product (M·K·N) with a C-contiguous left operand from which
#: ``gemm.matmul`` runs it on the packed kernel (docs/math.md K5), each thread packing its
#: own copy of the right operand, rather than on the BLAS; and the most bytes of that
#: right operand, whose panels every row block streams through (bench/KERNEL_NOTES.md,
#: "Products: the packed kernel over many rows").
PACKED_PRODUCT_MIN_MACS = 40_000_000
PACKED_PRODUCT_MAX_BYTES = 1 << 20
#: The same for a product with a transposed left operand (the weight gradients δᵀX), unsplit
#: or split by the reduction index: its multiply-adds, and the most elements of each
#: operand's part (its rows of the reduction index): one part packs its rows of the right
#: operand and streams its rows of the left one's C array once per panel group. On AMD's
#: Zen cores only, where it measured faster than the BLAS; elsewhere (0) the BLAS, faster
#: on an Intel Xeon and the safe choice on a CPU not measured (bench/KERNEL_NOTES.md,
#: "Products: the packed kernel for the weight gradients"). The bound on those cores is
#: ``ZEN_TRANSPOSED_MAX_ELEMENTS`` (tests set it to take that route on any CPU).
PACKED_TRANSPOSED_MIN_MACS = 2_000_000
ZEN_TRANSPOSED_MAX_ELEMENTS = 1 << 20
PACKED_TRANSPOSED_MAX_ELEMENTS = ZEN_TRANSPOSED_MAX_ELEMENTS if _amd_zen() else 0

#: Multiply-adds of the attention pooling's projections (B·T·K·D) below which its forward
#: and backward make them inside their compiled call, one call each way, rather than
#: through ``gemm.matmul`` between calls (bench/KERNEL_NOTES.md, "Attention: one call at
#: small sizes"); only where ``gemm.matmul`` would not split them either.
ATTENTION_ONE_CALL_MAX_MACS = PRODUCT_SPLIT_MIN_MACS

#: Bytes of W_hh in the kernels' dtype up to which each chunk of a step loop packs its
#: weights itself, on the thread that reads them, instead of one copy packed by the caller
#: and read by every thread: rewriting panels that another core read at the last call
#: waits on that core's cache (bench/KERNEL_NOTES.md, "Step loop: each thread packs its
#: own weight").
OWN_PANELS_MAX_BYTES = 2 << 20

#: Arrays of ``workspace.empty`` from this many bytes up are pooled: half glibc's default
#: mmap threshold (128 KiB). Blocks about that large malloc may hand back to the system
#: when freed (its heap's top trimmed, or their own mapping unmapped) and fault in again
#: at the next step; smaller ones it reuses (bench/KERNEL_NOTES.md, "Workspace: pooled
#: buffers from 64 KiB").
POOL_MIN_BYTES = 1 << 16


def _bytes_from_environment(name: str, default: int) -> int:
    """The environment variable ``name`` as a number of bytes: digits, optionally with a K,
    M or G suffix (binary units: 256M is 256 MiB; a trailing "B" or "iB" is allowed), or
    ``default`` where it is unset or empty. Raises ValueError naming the variable otherwise."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    match = re.fullmatch(r"(\d+)\s*([KMG]?)(?:i?B)?", text, flags=re.IGNORECASE)
    if match is None:
        raise ValueError(f"{name}: expected a number of bytes such as 268435456 or 256M, "
                         f"got {text!r}")
    return int(match[1]) << {"": 0, "K": 10, "M": 20, "G": 30}[match[2].upper()]


#: Most bytes of free buffers the workspace pool keeps: more than one training step of the
#: benchmark's largest sizes frees (bench/KERNEL_NOTES.md, "Workspace: pooled buffers");
#: the environment variable NONGATE_NP_WORKSPACE_LIMIT sets another (``workspace.set_limit``).
POOL_LIMIT_BYTES = _bytes_from_environment("NONGATE_NP_WORKSPACE_LIMIT", 1 << 29)

#: How long, in µs, a thread of the kernels' pool watches for its next chunk, and the
#: calling thread for a pool thread's end, before sleeping on a lock; it yields its core
#: to any other runnable thread between looks (``spin.watch``, bench/KERNEL_NOTES.md,
#: "Threads: watch, then sleep"). 0: sleep at once.
WATCH_MICROSECONDS = 10_000
#: How long, in µs, a watching pool thread that has seen its next chunk come waits more
#: before it takes the GIL, so that the calling thread, which holds it until its own chunk
#: enters compiled code, has let it go (``spin.end_then_watch``, bench/KERNEL_NOTES.md,
#: "Threads: the start of a chunk"). 0: take it at once.
START_GRACE_MICROSECONDS = 5

_KNOBS = ("STEP_SPLIT_MIN_MACS", "STEP_PROJECTION_MAX_INPUTS", "STEP_PROJECTION_MIN_ROWS",
          "STEP_PROJECTION_MIN_ROWS_MAX_WEIGHTS", "PRODUCT_SPLIT_MIN_MACS",
          "PRODUCT_ROWS_MIN_BYTES", "PACKED_PRODUCT_MIN_MACS",
          "PACKED_PRODUCT_MAX_BYTES", "PACKED_TRANSPOSED_MIN_MACS",
          "PACKED_TRANSPOSED_MAX_ELEMENTS", "ATTENTION_ONE_CALL_MAX_MACS",
          "OWN_PANELS_MAX_BYTES",
          "POOL_MIN_BYTES", "POOL_LIMIT_BYTES", "WATCH_MICROSECONDS",
          "START_GRACE_MICROSECONDS")

_NEVER = 2 ** 62                    # more multiply-adds than any product has


@contextlib.contextmanager
def override(**knobs: int) -> Iterator[None]:
    """Set knobs of this module (by name, e.g. ``POOL_LIMIT_BYTES=1 << 20``) inside the
    block; each is restored on leaving, also on an exception. Overrides nest.

    Raises
    ------
    TypeError
        A name that is not a knob of this module.
    ValueError
        A value that is not a non-negative int.
    """
    for name, value in knobs.items():
        if name not in _KNOBS:
            raise TypeError(f"tuning.override: unknown knob {name!r}; expected one of "
                            f"{', '.join(_KNOBS)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"tuning.override: {name} must be a non-negative int, got "
                             f"{value!r}")
    saved = {name: globals()[name] for name in knobs}
    globals().update(knobs)
    try:
        yield
    finally:
        globals().update(saved)


def force_split() -> contextlib.AbstractContextManager[None]:
    """Split every LSTM step loop and every product over the threads, whatever its size,
    inside the block (where this machine splits at all, and never in a fork child:
    ``threads.parallel_chunks``)."""
    return override(STEP_SPLIT_MIN_MACS=0, PRODUCT_SPLIT_MIN_MACS=0)


def force_serial() -> contextlib.AbstractContextManager[None]:
    """Run every LSTM step loop and every product on the calling thread inside the block."""
    return override(STEP_SPLIT_MIN_MACS=_NEVER, PRODUCT_SPLIT_MIN_MACS=_NEVER)


def force_projection(where: str) -> contextlib.AbstractContextManager[None]:
    """Make every LSTM forward's input term x_t W_ihᵀ inside the step loop (``"loop"``),
    whatever the input's width and the chunks' rows, or as one product before it
    (``"product"``), inside the block. Raises ValueError for another ``where``."""
    if where == "loop":
        return override(STEP_PROJECTION_MAX_INPUTS=_NEVER, STEP_PROJECTION_MIN_ROWS=0,
                        STEP_PROJECTION_MIN_ROWS_MAX_WEIGHTS=_NEVER)
    if where == "product":
        return override(STEP_PROJECTION_MAX_INPUTS=0)
    raise ValueError(f"tuning.force_projection: where must be 'loop' or 'product', got "
                     f"{where!r}")
