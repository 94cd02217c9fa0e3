"""The kernels' geometry: limits of the argument blocks and work-group shapes.

The generated sources and the C launch planner (``csrc/``) share these numbers; a plugin's
build reads them from here (:func:`deepseek.backends.kernels.build.macros`), so C and the
kernels have one declaration. This module imports nothing, so a build script can load it by
path without importing deepseek.
"""
MAXD = 8  # dims of a MetaN block after coalescing
MAXT = 6  # tensors of a MetaN block
# operands of a generated fused elementwise kernel (kernels.fused): N pointers, MetaN and n
# fit in 1024 bytes (8N + 8 * meta_longs(N) + 8 <= 1024)
FMAXT = 11
PARAM_SIZES = (8, 16, 32)  # the P8, P16, P32 parameter blocks, in longs
LS = 128  # the work-group size of 1-d kernels, or the largest power of two a kernel allows below it
# matmul: a work-group of (MW, MW) work items computes a (MT, MT) tile of the output, each
# work item an (MR, MR) block (rows ty + MW*i, cols tx + MW*j); K advances MK at a time
# through local memory.
MW, MR, MK = 8, 4, 16
MT = MW * MR
MD, MDW = 4, 64  # the direct (CPU) matmul: rows per work item, work-group size
SORT_RANK_MAX, SORT_BLOCK = 1024, 256  # longer sorted dims: rank in blocks, then merge passes
MAX_GROUPS_YZ = 65535  # work-groups along axes 1 and 2 of one launch (CUDA's and HIP's grid limit)


def meta_longs(nt: int) -> int:
    """Length of MetaN in 64-bit words: sh[MAXD], st[N][MAXD], off[N], nd."""
    return MAXD + nt * MAXD + nt + 1
