"""Plans of matmul and the convolutions (im2col + matmul in chunks of the batch, or the
direct kernels)."""
from __future__ import annotations

from ... import kernels
from ..dtypes import D
from ..geometry import LS, MAX_GROUPS_YZ, MD, MDW, MT, MW
from .core import (Launch, Tensor, _count, _nscalars, _roundup, make_meta, make_params, op)


@op("matmul")
def _matmul(L: Launch):
    _count(L.t, 3)
    out, a, b = L.t
    if not (out.ndim == a.ndim == b.ndim == 3):
        raise ValueError("expects 3-d out (B, M, N), a (B, M, K), b (B, K, N)")
    B, M, N = out.shape
    K = a.shape[2]
    if a.shape != (B, M, K) or b.shape != (B, K, N):
        raise ValueError(f"shapes do not chain: out {out.shape}, a {a.shape}, b {b.shape}")
    if not out.dtype == a.dtype == b.dtype:
        raise ValueError(f"dtypes differ: out {out.dtype}, a {a.dtype}, b {b.dtype}")
    if out.dtype == "bool":
        raise NotImplementedError("not defined for bool")
    L.need(a.dtype)
    _launch_matmul(L, out, a, b)


def _launch_matmul(L: Launch, out: Tensor, a: Tensor, b: Tensor):
    """out (B, M, N) = a (B, M, K) @ b (B, K, N), any strides; one launch per block of at most
    MAX_GROUPS_YZ batches and MAX_GROUPS_YZ work-groups of rows (the grid limit of CUDA and HIP
    on those axes)."""
    if out.numel == 0:
        return
    B, M, N = out.shape
    K = a.shape[2]
    direct = L.rt.direct_matmul()
    rows = (MD if direct else MT) * MAX_GROUPS_YZ
    for b0 in range(0, B, MAX_GROUPS_YZ):
        for m0 in range(0, M, rows):
            nb, nm = min(B - b0, MAX_GROUPS_YZ), min(M - m0, rows)
            p = make_params([nm, N, K, a.offset + b0 * a.strides[0] + m0 * a.strides[1], *a.strides,
                             b.offset + b0 * b.strides[0], *b.strides,
                             out.offset + b0 * out.strides[0] + m0 * out.strides[1], *out.strides])
            args = [("mem", out.mem), ("mem", a.mem), ("mem", b.mem), ("bytes", p)]
            if direct:
                L.run(a.dtype, "k_matmul_direct", args, (_roundup(N, MDW), -(-nm // MD), nb), (MDW, 1, 1))
            else:
                L.run(a.dtype, "k_matmul", args, (-(-N // MT) * MW, -(-nm // MT) * MW, nb), (MW, MW, 1))


def _conv_params(L: Launch, y: Tensor, x: Tensor, w: Tensor):
    _nscalars(L.s, 7)
    sh, sw, ph, pw, dh, dw, G = (int(v) for v in L.s[:7])
    if not (y.ndim == x.ndim == w.ndim == 4):
        raise ValueError("expects 4-d tensors")
    if not y.dtype == x.dtype == w.dtype:
        raise ValueError(f"dtypes differ: {y.dtype}, {x.dtype}, {w.dtype}")
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    if G < 1 or sh < 1 or sw < 1 or dh < 1 or dw < 1 or ph < 0 or pw < 0:
        raise ValueError(f"bad stride/padding/dilation/groups {tuple(L.s[:7])}")
    if C != Cg * G or O % G:
        raise ValueError(f"channels do not fit groups={G}: x {x.shape}, w {w.shape}")
    OH = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1
    if y.shape != (N, O, OH, OW):
        raise ValueError(f"output shape {y.shape} is not {(N, O, OH, OW)}")
    if D[x.dtype].kind == "b":
        raise NotImplementedError("not defined for bool")
    L.need(x.dtype)
    return make_params([N, C, H, W, O, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, G, *y.strides, y.offset,
                        *x.strides, x.offset, *w.strides, w.offset])


CONV_SCRATCH = 64 << 20  # bytes of im2col columns per chunk of the batch


def _gemm_ok(L: Launch, y: Tensor, w: Tensor) -> bool:
    """Whether the conv runs as im2col + matmul: one group, a float dtype, output planes with
    one stride per position, and (C, KH, KW) of the weight in one stride (the usual layouts)."""
    if not L.rt.conv_gemm() or int(L.s[6]) != 1 or not D[y.dtype].is_float or y.numel == 0 or w.numel == 0:
        return False
    _, _, OH, OW = y.shape
    _, _, KH, KW = w.shape
    planes = OH == 1 or OW == 1 or y.strides[2] == OW * y.strides[3]
    kernel = (KH == 1 or w.strides[2] == KW * w.strides[3]) and \
        (w.shape[1] == 1 or w.strides[1] == KH * KW * w.strides[3])
    return planes and kernel


def _plane_stride(t: Tensor) -> int:
    """The stride of the flattened (OH*OW) position of a (N, O, OH, OW) tensor with one-stride planes."""
    return t.strides[3] if t.shape[3] > 1 else t.strides[2]


def _conv_chunks(N, per_item):
    nb = max(1, min(N, CONV_SCRATCH // max(1, per_item)))
    return nb, [(n0, min(nb, N - n0)) for n0 in range(0, N, nb)]


@op("conv2d")
def _conv2d(L: Launch):
    _count(L.t, 3)
    y, x, w = L.t
    p = _conv_params(L, y, x, w)
    n = y.numel
    if _gemm_ok(L, y, w):
        N, O, OH, OW = y.shape
        PQ, Kc, item = OH * OW, w.shape[1] * w.shape[2] * w.shape[3], D[x.dtype].size
        nb, chunks = _conv_chunks(N, Kc * PQ * item)
        cols = L.rt.temp(nb * Kc * PQ * item)
        try:
            for n0, m in chunks:
                L.run(x.dtype, "k_im2col", [("mem", cols), ("mem", x.mem), ("bytes", p), ("long", n0), ("long", m),
                                            ("int", 0)], (_roundup(m * Kc * PQ),), (LS,))
                _launch_matmul(L, Tensor(y.mem, y.dtype, (m, O, PQ), (y.strides[0], y.strides[1], _plane_stride(y)),
                                         y.offset + n0 * y.strides[0]),
                               Tensor(w.mem, w.dtype, (m, O, Kc), (0, w.strides[0], w.strides[3]), w.offset),
                               Tensor(cols, x.dtype, (m, Kc, PQ), (Kc * PQ, PQ, 1), 0))
        finally:
            L.rt.release(cols)
        return
    if n:
        L.run(x.dtype, "k_conv2d", [("mem", y.mem), ("mem", x.mem), ("mem", w.mem), ("bytes", p)],
              (_roundup(n),), (LS,))


@op("conv2d_input_grad")
def _conv2d_input_grad(L: Launch):
    _count(L.t, 3)
    gx, gy, w = L.t
    p = _conv_params(L, gy, gx, w)
    n = gx.numel
    if _gemm_ok(L, gy, w) and n:
        N, O, OH, OW = gy.shape
        PQ, Kc, item = OH * OW, w.shape[1] * w.shape[2] * w.shape[3], D[gx.dtype].size
        nb, chunks = _conv_chunks(N, Kc * PQ * item)
        cols = L.rt.temp(nb * Kc * PQ * item)
        try:
            for n0, m in chunks:
                _launch_matmul(L, Tensor(cols, gx.dtype, (m, Kc, PQ), (Kc * PQ, PQ, 1), 0),
                               Tensor(w.mem, w.dtype, (m, Kc, O), (0, w.strides[3], w.strides[0]), w.offset),
                               Tensor(gy.mem, gy.dtype, (m, O, PQ), (gy.strides[0], gy.strides[1], _plane_stride(gy)),
                                      gy.offset + n0 * gy.strides[0]))
                L.run(gx.dtype, "k_col2im", [("mem", gx.mem), ("mem", cols), ("bytes", p), ("long", n0),
                                             ("long", m)], (_roundup(m * gx.numel // N),), (LS,))
        finally:
            L.rt.release(cols)
        return
    if n:
        L.run(gx.dtype, "k_conv2d_input_grad", [("mem", gx.mem), ("mem", gy.mem), ("mem", w.mem), ("bytes", p)],
              (_roundup(n),), (LS,))


@op("conv2d_weight_grad")
def _conv2d_weight_grad(L: Launch):
    _count(L.t, 3)
    gw, gy, x = L.t
    p = _conv_params(L, gy, x, gw)
    nw = gw.numel
    if nw == 0:
        return
    if _gemm_ok(L, gy, gw):
        _conv2d_weight_grad_gemm(L, gw, gy, x, p)
        return
    N = x.shape[0]
    dt = D[x.dtype]
    P = min(N, -(-4096 // nw)) if dt.is_float and nw < 4096 and N > 1 else 1
    part = L.rt.temp(nw * P * dt.ctsize) if P > 1 else 0
    try:
        L.run(x.dtype, "k_conv2d_weight_grad", [("mem", gw.mem), ("mem", gy.mem), ("mem", x.mem), ("bytes", p),
                                                ("mem", part), ("long", P)], (_roundup(nw * P),), (LS,))
        if P > 1:
            mf = make_meta(gw.shape, [gw.strides], [gw.offset])
            L.run(x.dtype, "k_redf", [("mem", gw.mem), ("mem", part), ("bytes", mf), ("long", nw), ("long", P),
                                      ("int", 0)], (_roundup(nw),), (LS,))
    finally:
        if part:
            L.rt.release(part)


def _conv2d_weight_grad_gemm(L: Launch, gw: Tensor, gy: Tensor, x: Tensor, p):
    """gw (O, C*KH*KW) = sum over the batch of gy_n (O, OH*OW) @ cols_n^T, one matmul per chunk
    of the batch with K = positions of the chunk; chunks after the first are added in."""
    N, O, OH, OW = gy.shape
    PQ, Kc, item = OH * OW, gw.shape[1] * gw.shape[2] * gw.shape[3], D[x.dtype].size
    nb, chunks = _conv_chunks(N, max(Kc, O) * PQ * item)
    cols = L.rt.temp(nb * PQ * Kc * item)
    g2 = L.rt.temp(O * nb * PQ * item)
    part = L.rt.temp(O * Kc * item) if len(chunks) > 1 else 0
    gw2 = Tensor(gw.mem, gw.dtype, (O, Kc), (gw.strides[0], gw.strides[3]), gw.offset)
    try:
        for i, (n0, m) in enumerate(chunks):
            L.run(x.dtype, "k_im2col", [("mem", cols), ("mem", x.mem), ("bytes", p), ("long", n0), ("long", m),
                                        ("int", 1)], (_roundup(m * Kc * PQ),), (LS,))
            g2t = Tensor(g2, gy.dtype, (O, m, PQ), (m * PQ, PQ, 1), 0)
            L.copy(g2t, Tensor(gy.mem, gy.dtype, (O, m, PQ), (gy.strides[1], gy.strides[0], _plane_stride(gy)),
                               gy.offset + n0 * gy.strides[0]))
            a = Tensor(g2, gy.dtype, (1, O, m * PQ), (0, m * PQ, 1), 0)
            b = Tensor(cols, x.dtype, (1, m * PQ, Kc), (0, Kc, 1), 0)
            if i == 0:
                _launch_matmul(L, Tensor(gw.mem, gw.dtype, (1, O, Kc), (0,) + gw2.strides, gw.offset), a, b)
            else:
                _launch_matmul(L, Tensor(part, gw.dtype, (1, O, Kc), (0, Kc, 1), 0), a, b)
                L.ew(gw.dtype, "k_binary", [gw2, gw2, Tensor(part, gw.dtype, (O, Kc), (Kc, 1), 0)], (O, Kc),
                     [("int", kernels.BINARY.index("add"))])
    finally:
        for buf in (cols, g2, part):
            if buf:
                L.rt.release(buf)


