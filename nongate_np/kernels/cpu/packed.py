"""The recurrent product with the weight packed once per call (docs/math.md K5).

Inside the step loop the same weight W (K, N) multiplies a new left operand every step.
A BLAS packs W again at every call; here it is packed once, before the loop, into panels of
``NR`` columns (:func:`pack` from Python, :func:`packed_weight` inside compiled code, both
through the compiled copy :func:`pack_into`), and :func:`packed_gemm` runs a
register-blocked kernel over them: ``MR`` rows by ``PANELS`` panels of accumulators, kept
in vector registers for the whole reduction over k, the panels streamed from the L1 cache
once per block of rows, as oneDNN's packed RNN weights and BLIS's microkernels do.

The kernel is written in LLVM IR through an intrinsic, with vectors of 64 bytes
(``<16 x float>``, ``<8 x double>``): Numba's loop vectoriser keeps no accumulator in a
register across a reduction (bench/KERNEL_NOTES.md, "Step loop: packed recurrent weight"),
and LLVM splits each vector into the target's registers (two on AVX2, one on AVX-512).
The sums run in k order (in interleaved partial sums only in a product of 1 or 2 rows),
with FMA where the CPU has it: the same bits every call, and from 3 rows up each row the
same bits whatever the other rows.
"""

from __future__ import annotations

from typing import Any

import llvmlite.binding as ll
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import intrinsic

from .activations import KERNEL_FLAGS

__all__ = ["MR", "NR", "PANELS", "pack", "pack_into", "packed_gemm", "packed_weight",
           "panel_width", "products", "wide_registers"]

def wide_registers() -> bool:
    """Whether Numba compiles for a CPU with AVX-512, where one register holds 64 bytes."""
    if config.CPU_NAME in (None, "host"):        # Numba's default target: this CPU
        return bool(ll.get_host_cpu_features().get("avx512f", False))
    return "+avx512f" in (config.CPU_FEATURES or "")


#: Rows of the result per block. AVX2: 6 rows of one panel, 12 of its 16 vector registers
#: (two per 64-byte vector), with the panel's vector and one broadcast. AVX-512: 12 rows of
#: two panels, 24 of its 32 (one per vector): each k loads 14 operands for 24 FMAs, where 6
#: rows loaded 8 for 12 (bench/KERNEL_NOTES.md, "Step loop: packed recurrent weight")
MR = 12 if wide_registers() else 6
#: Columns per panel, by dtype: one 64-byte vector
NR = {np.dtype(np.float32): 16, np.dtype(np.float64): 8}


#: Panels per block, by the products' build: 1 (AVX2: a 64-byte vector is two registers,
#: MR rows of one panel already 2·MR accumulators) or 2 (AVX-512: one register, so two
#: panels give the 2·MR chains the FMA units need in flight), bench/KERNEL_NOTES.md,
#: "Step loop: packed recurrent weight"
PANELS = 2 if wide_registers() else 1


def panel_width(n: int, dtype: np.dtype, panels: int | None = None) -> int:
    """n rounded up to whole groups of ``panels`` panels (default :data:`PANELS`): the width
    of a result that :func:`packed_gemm` writes."""
    step = NR[np.dtype(dtype)] * (PANELS if panels is None else panels)
    return -(-n // step) * step


def pack(w: np.ndarray, dtype: np.dtype, panels: int | None = None) -> np.ndarray:
    """W (K, N) as panels (NP, K, NR) of ``dtype``, NP = ceil(N / NR) rounded up to a
    multiple of ``panels`` (default :data:`PANELS`), the columns past N zero.

    NOTE: the panels from ``np.empty``, which asks Linux for huge pages for a large array;
    Numba's allocation inside compiled code does not, and at the largest sizes the copy
    then faulted its pages in 2.5x slower (bench/KERNEL_NOTES.md, "Step loop: packing a
    large weight")."""
    dtype = np.dtype(dtype)
    K, N = w.shape
    nr = NR[dtype]
    wp = np.empty((panel_width(N, dtype, panels) // nr, K, nr), dtype)
    pack_into(w.astype(dtype, copy=False), wp)
    return wp


@njit(**KERNEL_FLAGS)
def pack_into(w, wp):
    """wp[p, k, j] = W[k, p·NR + j], 0 past N: W (K, N) of any layout into the panels wp
    (NP, K, NR) of its dtype (docs/math.md K5), NP·NR at least N. Raises ValueError
    (inside jitted code) where wp's shape does not fit W's."""
    K, N = w.shape
    NP, nr = wp.shape[0], wp.shape[2]
    if wp.shape[1] != K or NP * nr < N:
        raise ValueError("pack_into: wp (NP, K, NR) does not hold W (K, N)")
    full = N // nr
    for p in range(full):
        for k in range(K):
            for j in range(nr):
                wp[p, k, j] = w[k, p * nr + j]
    for p in range(full, NP):             # the last partial panel, then whole padding
        for k in range(K):
            for j in range(nr):
                n = p * nr + j
                wp[p, k, j] = w[k, n] if n < N else 0


@njit(inline="always", **KERNEL_FLAGS)
def packed_weight(w):
    """W (K, N), float32 or float64, as new panels (NP, K, NR) of :data:`PANELS` panels per
    block: :func:`pack` inside compiled code, for a weight small enough that its pages
    need no huge pages (bench/KERNEL_NOTES.md, "Step loop: each thread packs its own
    weight").

    NOTE: inlined by Numba: compiled alone, LLVM optimised its copy loops again in it and
    in each step loop that calls it, about 0.5 s more cold compile per dtype."""
    K, N = w.shape
    nr = 64 // w.itemsize
    step = nr * PANELS
    wp = np.empty((-(-N // step) * PANELS, K, nr), w.dtype)
    pack_into(w, wp)
    return wp


def _typed(a, wp, out):
    """The signature of a product on these operand types, or None where they do not fit."""
    if not (isinstance(a, types.Array) and isinstance(wp, types.Array)
            and isinstance(out, types.Array)):
        return None
    if (a.ndim, wp.ndim, out.ndim) != (2, 3, 2) or wp.layout != "C" or out.layout != "C":
        return None
    if a.dtype not in (types.float32, types.float64) or wp.dtype != a.dtype \
            or out.dtype != a.dtype:
        return None
    return types.void(a, wp, out)


def _product(panels: int) -> Any:
    """The intrinsic of :func:`packed_gemm` with blocks ``panels`` panels wide."""

    @intrinsic
    def packed_gemm(typingctx, a, wp, out):
        """out[:, :NP·NR] = a @ W, W packed by :func:`pack` as wp (NP, K, NR) (docs/math.md
        K5).

        a (M, K) and out (M, ≥ NP·NR) are 2-D float32 or float64 arrays of wp's dtype, out
        C-contiguous (or a row slice of such an array), a of any layout (the transpose of a
        C array is read in place: the rows of a block are adjacent elements there); out's
        columns past N are W's zero padding times a: 0. Raises ValueError (inside jitted
        code) when a's columns are not wp's K, out is narrower than NP·NR, or NP is not a
        multiple of the panels per block (wp packed by :func:`pack` with other
        ``panels``).
        """
        sig = _typed(a, wp, out)
        if sig is None:
            return None

        def codegen(context, builder, sig, args):
            _emit(context, builder, sig, args, panels)
            return context.get_dummy_value()

        return sig, codegen

    return packed_gemm


#: The product by panels per block: each is right on every CPU, ``packed_gemm`` the faster
products = {1: _product(1), 2: _product(2)}
packed_gemm = products[PANELS]


def _emit(context, builder, sig, args, panels):
    """The loops of :func:`packed_gemm`: groups of ``panels`` panels, then blocks of MR
    rows, then the last M mod MR rows as one block of their own size
    (:meth:`_Kernel.block`), except 1 or 2 rows after a whole block: then the last MR + 1 or
    MR + 2 rows go as two blocks of about half that. So from 3 rows up every row is in a
    block of at least 3, where its sum runs in k order alone: its bits do not depend on M,
    on which rows a chunk of the threads' split holds, or on MR (AVX2's or AVX-512's). NP
    must be a multiple of ``panels``: :func:`pack` pads it so."""
    i64 = ir.IntType(64)
    nr = 16 if sig.args[0].dtype == types.float32 else 8
    a, wp, out = (context.make_array(t)(context, builder, v) for t, v in zip(sig.args, args))
    M, K = cgutils.unpack_tuple(builder, a.shape, 2)
    NP, Kw, _ = cgutils.unpack_tuple(builder, wp.shape, 3)
    Mo, No = cgutils.unpack_tuple(builder, out.shape, 2)
    width = ir.Constant(i64, panels)
    bad = builder.or_(builder.icmp_signed("!=", Kw, K), builder.or_(
        builder.icmp_signed("!=", Mo, M),
        builder.icmp_signed("<", No, builder.mul(NP, ir.Constant(i64, nr)))))
    bad = builder.or_(bad, builder.icmp_signed("!=", builder.srem(NP, width), ir.Constant(i64, 0)))
    with builder.if_then(bad, likely=False):
        context.call_conv.return_user_exc(
            builder, ValueError,
            (f"packed_gemm: a (M, K), wp (NP, K, NR) and out (M, >= NP*NR) do not match, "
             f"or NP is not a multiple of {panels} (pack with panels={panels})",))
    kernel = _Kernel(context, builder, sig.args[0].dtype, nr, a, wp, out, K, panels,
                     sig.args[0].layout)
    one, two, mr = (ir.Constant(i64, v) for v in (1, 2, MR))
    full, tail = builder.sdiv(M, mr), builder.srem(M, mr)
    # 1 or 2 rows left after a whole block: that block's rows join them in the tail
    short = builder.and_(builder.icmp_unsigned("<", builder.sub(tail, one), two),
                         builder.icmp_signed(">=", full, one))
    full = builder.sub(full, builder.zext(short, i64))
    i0 = builder.mul(full, mr)
    rest = builder.sub(M, i0)
    # the tail's blocks: one (of no rows where none are left), or two halves where short
    n = builder.add(one, builder.zext(short, i64))
    with cgutils.for_range(builder, builder.sdiv(NP, width)) as g:
        group = [builder.add(builder.mul(g.index, width), ir.Constant(i64, p))
                 for p in range(panels)]
        with cgutils.for_range(builder, full) as blk:
            kernel.block(MR, builder.mul(blk.index, mr), group)
        with cgutils.for_range(builder, n) as j:
            height = builder.sdiv(builder.add(rest, j.index), n)
            at = builder.add(i0, builder.mul(j.index, builder.sdiv(rest, n)))
            switch_end = builder.append_basic_block("packed.tail.end")
            switch = builder.switch(height, switch_end)
            for rows in range(1, MR):
                case = builder.append_basic_block(f"packed.tail.{rows}")
                switch.add_case(ir.Constant(i64, rows), case)
                builder.position_at_end(case)
                kernel.block(rows, at, group)
                builder.branch(switch_end)
            builder.position_at_end(switch_end)


class _Kernel:
    """Emits the block kernel: ``rows`` rows from i0 times a group of panels,
    out[i0:i0+rows, the panels' columns] = Σ_k a[i0:i0+rows, k] ⊗ panel[k], the accumulators
    allocas of vectors that LLVM keeps in registers. With 1 or 2 rows, each row's sum
    over k is split into U = 4 // rows interleaved partial sums (k mod U), added at the
    end, so that 4 · panels chains of FMAs are in flight instead of rows · panels: a single
    row would otherwise wait on the FMA latency at every k."""

    def __init__(self, context, builder, dtype, nr, a, wp, out, K, panels, a_layout):
        self.b, self.nr, self.K = builder, nr, K
        self.float_t = context.get_value_type(dtype)
        self.vec_t = ir.VectorType(self.float_t, nr)
        self.align = context.get_abi_sizeof(self.float_t)
        name = f"llvm.fmuladd.v{nr}{'f32' if nr == 16 else 'f64'}"
        self.fmuladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(self.vec_t, [self.vec_t] * 3), name)
        i8p = ir.IntType(8).as_pointer()
        self.a_base, self.o_base = (builder.bitcast(v.data, i8p) for v in (a, out))
        self.a_row, self.o_row = (cgutils.unpack_tuple(builder, v.strides, 2)[0]
                                  for v in (a, out))         # bytes
        # bytes from one column of a to the next, read from its strides; None where a is
        # C-contiguous (one element: the loads index elements)
        self.a_col = None if a_layout == "C" else \
            cgutils.unpack_tuple(builder, a.strides, 2)[1]
        self.wp = wp.data
        self.accs = [cgutils.alloca_once(builder, self.vec_t) for _ in range(MR * panels)]

    def _row(self, base, stride, row):
        b = self.b
        return b.bitcast(b.gep(base, [b.mul(row, stride)]), self.float_t.as_pointer())

    def block(self, rows, i0, group):
        b, i64, nr = self.b, ir.IntType(64), self.nr
        width = len(group)
        u = max(1, 4 // rows)                    # partial sums per row
        a_rows = [self._row(self.a_base, self.a_row, b.add(i0, ir.Constant(i64, r)))
                  for r in range(rows)]
        if self.a_col is not None:
            a_rows = [b.bitcast(v, ir.IntType(8).as_pointer()) for v in a_rows]
        starts = [b.gep(self.wp, [b.mul(jp, b.mul(self.K, ir.Constant(i64, nr)))])
                  for jp in group]                # each panel's first row
        accs = self.accs[:rows * u * width]      # <= MR · width for every rows <= MR

        def acc(r, part, p):
            return accs[(r * u + part) * width + p]

        for v in accs:
            b.store(ir.Constant(self.vec_t, [0.0] * nr), v)
        undef = ir.Constant(self.vec_t, ir.Undefined)
        lane0 = ir.Constant(ir.VectorType(ir.IntType(32), nr), [0] * nr)
        uc = ir.Constant(i64, u)

        def step(k, part):
            vecs = [b.load(b.bitcast(b.gep(panel, [b.mul(k, ir.Constant(i64, nr))]),
                                     self.vec_t.as_pointer()), align=self.align)
                    for panel in starts]
            for r in range(rows):
                if self.a_col is None:
                    s = b.load(b.gep(a_rows[r], [k]))
                else:
                    s = b.load(b.bitcast(b.gep(a_rows[r], [b.mul(k, self.a_col)]),
                                         self.float_t.as_pointer()))
                splat = b.shuffle_vector(b.insert_element(undef, s, ir.Constant(
                    ir.IntType(32), 0)), undef, lane0)
                for p, vec in enumerate(vecs):
                    dst = acc(r, part, p)
                    b.store(b.call(self.fmuladd, [splat, vec, b.load(dst)]), dst)

        with cgutils.for_range(b, b.sdiv(self.K, uc)) as kk:
            for part in range(u):
                step(b.add(b.mul(kk.index, uc), ir.Constant(i64, part)), part)
        with cgutils.for_range(b, b.srem(self.K, uc)) as kk:    # the last K mod U
            step(b.add(b.mul(b.sdiv(self.K, uc), uc), kk.index), 0)
        for r in range(rows):
            dst = self._row(self.o_base, self.o_row, b.add(i0, ir.Constant(i64, r)))
            for p, jp in enumerate(group):
                total = b.load(acc(r, 0, p))
                if u == 4:                       # ((p0 + p1) + (p2 + p3)), fixed order
                    total = b.fadd(b.fadd(total, b.load(acc(r, 1, p))),
                                   b.fadd(b.load(acc(r, 2, p)), b.load(acc(r, 3, p))))
                elif u == 2:
                    total = b.fadd(total, b.load(acc(r, 1, p)))
                col = b.mul(jp, ir.Constant(i64, nr))
                b.store(total, b.bitcast(b.gep(dst, [col]), self.vec_t.as_pointer()),
                        align=self.align)
