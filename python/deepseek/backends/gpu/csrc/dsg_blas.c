/* dsg_blas.c (included by dsg_host.c): matmul through the vendor's BLAS (dsg_api.gemm).
 *
 * The matmul primitive is out (B, M, N) = a (B, M, K) @ b (B, K, N) on row-major index
 * order with any strides. A column-major BLAS computes the transpose, out^T = b^T a^T: out^T
 * is an N x M column-major matrix when out's N axis has unit stride, and each operand maps to
 * a column-major matrix, transposed or not, when one of its two axes has unit stride. Batches
 * are strided (0 for a broadcast operand). Anything else (no unit stride, sizes past a BLAS
 * int, an empty reduction, non-float dtypes) goes to the portable kernel.
 */
#define DSG_INT_MAX 2147483647LL

/* A (rows x cols) column-major view of a matrix whose element (r, c) sits at
 * r * row_step + c * col_step: whether BLAS can take it, and its leading dimension. Axes of
 * size 1 take any stride. */
static int as_column_major(int64_t rows, int64_t row_step, int64_t cols, int64_t col_step, int64_t *ld) {
    int64_t least = rows > 1 ? rows : 1;
    if (rows > 1 && row_step != 1) return 0;
    *ld = cols > 1 ? col_step : least;
    return *ld >= least && *ld <= DSG_INT_MAX;
}

/* An operand of the BLAS product: matrix (rows x cols) with element (r, c) at
 * r * r_step + c * c_step; plain when it is column-major as it is, transposed when its
 * transpose is. */
static int blas_operand(int64_t rows, int64_t r_step, int64_t cols, int64_t c_step, int *trans, int64_t *ld) {
    if (as_column_major(rows, r_step, cols, c_step, ld)) return *trans = 0, 1;
    if (as_column_major(cols, c_step, rows, r_step, ld)) return *trans = 1, 1;
    return 0;
}

static int gemm_dtype(int32_t dtype) {
    return dtype == DS_FLOAT16 || dtype == DS_BFLOAT16 || dtype == DS_FLOAT32 || dtype == DS_FLOAT64;
}

/* Fills g for matmul (out, a, b); 0 when the BLAS cannot take these operands. */
static int dsg_map_matmul(const ds_tensor_desc *t, int32_t n, dsg_gemm *g) {
    if (n != 3) return 0;
    const ds_tensor_desc *out = &t[0], *a = &t[1], *b = &t[2];
    if (out->ndim != 3 || a->ndim != 3 || b->ndim != 3 || !gemm_dtype(out->dtype) || a->dtype != out->dtype ||
        b->dtype != out->dtype)
        return 0;
    int64_t B = out->shape[0], M = out->shape[1], N = out->shape[2], K = a->shape[2];
    if (a->shape[0] != B || a->shape[1] != M || b->shape[0] != B || b->shape[1] != K || b->shape[2] != N) return 0;
    if (B < 1 || M < 1 || N < 1 || K < 1 || B > DSG_INT_MAX || M > DSG_INT_MAX || N > DSG_INT_MAX || K > DSG_INT_MAX)
        return 0;
    /* C = out^T (N x M), op(A) = b^T (N x K), op(B) = a^T (K x M) */
    int trans_c;
    if (!blas_operand(N, out->strides[2], M, out->strides[1], &trans_c, &g->ldc) || trans_c) return 0;
    if (!blas_operand(N, b->strides[2], K, b->strides[1], &g->trans_a, &g->lda)) return 0;
    if (!blas_operand(K, a->strides[2], M, a->strides[1], &g->trans_b, &g->ldb)) return 0;
    int64_t size = dsk_dtype_size[out->dtype];
    g->dtype = out->dtype;
    g->m = (int32_t)N, g->n = (int32_t)M, g->k = (int32_t)K, g->batch = (int32_t)B;
    g->a = (dsg_mem)(uintptr_t)b->ptr + (dsg_mem)(b->offset * size);
    g->b = (dsg_mem)(uintptr_t)a->ptr + (dsg_mem)(a->offset * size);
    g->c = (dsg_mem)(uintptr_t)out->ptr + (dsg_mem)(out->offset * size);
    g->stride_a = B > 1 ? b->strides[0] : 0;
    g->stride_b = B > 1 ? a->strides[0] : 0;
    g->stride_c = B > 1 ? out->strides[0] : 0;
    /* batches of the output must not overlap; operands may repeat (stride 0) */
    if (B > 1 && g->stride_c < (int64_t)g->ldc * (M > 1 ? M : 1)) return 0;
    return g->stride_a >= 0 && g->stride_b >= 0;
}

/* matmul through the vendor's BLAS when it has one and the operands fit it. */
static ds_status dsg_blas_matmul(dsg_device *d, const ds_op *op, const ds_tensor_desc *t, int32_t n, void *stream) {
    dsg_gemm g;
    if (!api->gemm || op->id != DS_OP_MATMUL || !dsg_map_matmul(t, n, &g)) return DS_ERROR_NOT_IMPLEMENTED;
    snprintf(d->last_launch, sizeof d->last_launch, "matmul (BLAS GEMM, %s)", DTYPE_NAMES[g.dtype]);
    return api->gemm(d->index, &g, stream);
}
