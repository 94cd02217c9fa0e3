/* fake_opapi.c: libopapi.so of the fake CANN: every aclnn operator deepseek-ascend may call, in
 * CANN's two phases. <op>GetWorkspaceSize checks its arguments as CANN documents (161001 for a
 * null pointer, 161002 for a destroyed descriptor, a negative stride, a view past its storage
 * or outside device memory, shapes that do not fit), snapshots them into a single-use executor
 * and asks for a non-zero workspace; <op> checks the workspace and the executor and queues the
 * computation (fake_kernels*.c) on the stream. $FAKE_ACL_FAIL=<op> makes that operator's first
 * phase fail with 161002 and a message, as a real argument error would. */
#include <stdlib.h>
#include <string.h>

#include "fake_opapi.h"

typedef void aclTensor;

static FExec *begin(const char *op, fkernel k) {
    FExec *e = calloc(1, sizeof *e);
    e->magic = M_EXEC, e->id = fake_next_id(), e->op = op, e->kernel = k;
    return e;
}

static int err; /* the first argument error of the executor being made (one thread makes it) */

static void tensor(FExec *e, const void *p, const char *name, int required) {
    const FTensor *t = p;
    int slot = e->nt++;
    if (err)
        return;
    if (!t) {
        if (required)
            err = fake_error(E_NULLPTR, "EZ1001: %s: %s is nullptr", e->op, name);
        return;
    }
    if (t->magic != M_TENSOR || !t->alive) {
        err = fake_error(E_INVALID, "EZ1001: %s: %s is not a live aclTensor", e->op, name);
        return;
    }
    int64_t extent = t->offset + 1, n = fk_numel(t);
    for (int k = 0; k < t->ndim; k++) {
        if (t->strides[k] < 0) {
            err = fake_error(E_INVALID, "EZ1001: %s: %s has a negative stride", e->op, name);
            return;
        }
        extent += (t->dims[k] - 1) * t->strides[k];
    }
    if (n > 0 && (t->offset < 0 || extent > t->storage)) {
        err = fake_error(E_INVALID, "EZ1001: %s: %s's view ends at element %lld, past its storage of %lld", e->op, name,
                         (long long)extent, (long long)t->storage);
        return;
    }
    int es = fake_dtype_size(t->dtype);
    if (n > 0 && !fake_in_block((char *)t->data + t->offset * es, (uint64_t)(extent - t->offset) * es)) {
        err = fake_error(E_INVALID, "EZ1001: %s: %s's data is not device memory", e->op, name);
        return;
    }
    e->t[slot] = *t;
    e->present[slot] = 1;
}

static void scalar(FExec *e, const void *p, const char *name) {
    const FScalar *s = p;
    if (err)
        return;
    if (!s)
        err = fake_error(E_NULLPTR, "EZ1001: %s: %s is nullptr", e->op, name);
    else if (s->magic != M_SCALAR || !s->alive)
        err = fake_error(E_INVALID, "EZ1001: %s: %s is not a live aclScalar", e->op, name);
    else
        e->s[e->ns++] = *s;
}

static void ints(FExec *e, const void *p, const char *name, int required) {
    const FIntArray *a = p;
    int slot = e->na++;
    if (err || (!a && !required))
        return;
    if (!a)
        err = fake_error(E_NULLPTR, "EZ1001: %s: %s is nullptr", e->op, name);
    else if (a->magic != M_INTS || !a->alive)
        err = fake_error(E_INVALID, "EZ1001: %s: %s is not a live aclIntArray", e->op, name);
    else
        e->a[slot] = *a;
}

static void list(FExec *e, const void *p, const char *name) {
    const FTensorList *l = p;
    if (err)
        return;
    if (!l) {
        err = fake_error(E_NULLPTR, "EZ1001: %s: %s is nullptr", e->op, name);
        return;
    }
    if (l->magic != M_LIST || !l->alive) {
        err = fake_error(E_INVALID, "EZ1001: %s: %s is not a live aclTensorList", e->op, name);
        return;
    }
    e->list_first = e->nt, e->list_n = (int32_t)l->n;
    for (int64_t i = 0; i < l->n; i++)
        tensor(e, l->v[i], name, 1);
}

static void need(FExec *e, int ok, const char *what) {
    if (!err && !ok)
        err = fake_error(E_INVALID, "EZ1001: %s: %s", e->op, what);
}

static int same_shape(const FTensor *a, const FTensor *b) {
    if (a->ndim != b->ndim)
        return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->dims[k] != b->dims[k])
            return 0;
    return 1;
}

/* `in` broadcasts to `out`'s shape */
static int broadcasts(const FTensor *in, const FTensor *out) {
    if (in->ndim > out->ndim)
        return 0;
    for (int k = 0; k < in->ndim; k++) {
        int64_t a = in->dims[k], b = out->dims[out->ndim - in->ndim + k];
        if (a != b && a != 1)
            return 0;
    }
    return 1;
}

static int finish(FExec *e, uint64_t *ws, void **ex) {
    const char *fail = getenv("FAKE_ACL_FAIL");
    if (!err && (!ws || !ex))
        err = fake_error(E_NULLPTR, "EZ1001: %s: workspaceSize or executor is nullptr", e->op);
    if (!err && fail && !strcmp(fail, e->op))
        err = fake_error(E_INVALID, "EZ1001: %s: the operands' shapes or dtypes are not supported (injected by FAKE_ACL_FAIL)", e->op);
    int rc = err;
    err = 0;
    int64_t n = 0;
    for (int i = 0; i < e->nt; i++)
        n += e->present[i] ? fk_numel(&e->t[i]) : 0;
    if (!rc) {
        e->workspace = 512 + 16 * (uint64_t)n; /* never zero: the caller must provide one */
        *ws = e->workspace;
        *ex = e;
    }
    fake_log("%sGetWorkspaceSize executor=%d workspace=%llu -> %d", e->op, rc ? 0 : e->id,
             (unsigned long long)(rc ? 0 : e->workspace), rc);
    if (rc)
        free(e);
    return rc;
}

static void run_exec(void *arg) {
    FExec *e = arg;
    fake_log("exec op=%s executor=%d -> 0", e->op, e->id);
    e->kernel(e);
    e->magic = 0;
    free(e);
}

static int second_phase(const char *op, void *ws, uint64_t size, void *ex, void *stream) {
    FExec *e = ex;
    int rc = 0;
    if (!e || e->magic != M_EXEC)
        rc = fake_error(E_NULLPTR, "EZ1001: %s: executor is nullptr or was already run (executors are single-use)", op);
    else if (strcmp(e->op, op))
        rc = fake_error(E_INVALID, "EZ1001: %s: the executor was made by %sGetWorkspaceSize", op, e->op);
    else if (e->used)
        rc = fake_error(E_INVALID, "EZ1001: %s: executor %d was already run (executors are single-use)", op, e->id);
    else if (size < e->workspace || !ws || !fake_in_block(ws, e->workspace))
        rc = fake_error(E_INVALID, "EZ1001: %s: workspace %p of %llu bytes given, %llu bytes of device memory needed", op,
                        ws, (unsigned long long)size, (unsigned long long)e->workspace);
    else if (!fake_stream_ok(stream))
        rc = fake_error(E_INVALID, "EZ1001: %s: invalid stream", op);
    fake_log("%s executor=%d workspace=%p size=%llu stream=%d -> %d", op, e && e->magic == M_EXEC ? e->id : 0, ws,
             (unsigned long long)size, fake_stream_id(stream), rc);
    if (rc)
        return rc;
    e->used = 1;
    void *uses[8] = {ws};
    int n = 1;
    for (int i = 0; i < e->nt && n < 8; i++)
        if (e->present[i] && fk_numel(&e->t[i]))
            uses[n++] = e->t[i].data;
    fake_enqueue(stream, run_exec, e, e->op, uses, n);
    return 0;
}

#define WSA uint64_t *ws, void **ex
#define SECOND(NAME) \
    int NAME(void *w, uint64_t n, void *e, void *s) { return second_phase(#NAME, w, n, e, s); }

/* ---- the operators, by signature ------------------------------------------------------- */

#define UNARY(NAME)                                                              \
    int NAME##GetWorkspaceSize(const aclTensor *self, aclTensor *out, WSA) {     \
        FExec *e = begin(#NAME, k_unary);                                        \
        tensor(e, self, "self", 1), tensor(e, out, "out", 1);                    \
        need(e, err || same_shape(&e->t[0], &e->t[1]), "self and out differ in shape"); \
        return finish(e, ws, ex);                                                \
    }                                                                            \
    SECOND(NAME)

#define BINARY(NAME)                                                                              \
    int NAME##GetWorkspaceSize(const aclTensor *self, const aclTensor *other, aclTensor *out, WSA) { \
        FExec *e = begin(#NAME, k_binary);                                                        \
        tensor(e, self, "self", 1), tensor(e, other, "other", 1), tensor(e, out, "out", 1);      \
        need(e, err || (broadcasts(&e->t[0], &e->t[2]) && broadcasts(&e->t[1], &e->t[2])),       \
             "self and other do not broadcast to out's shape");                                   \
        return finish(e, ws, ex);                                                                 \
    }                                                                                             \
    SECOND(NAME)

#define ALPHA(NAME)                                                                                     \
    int NAME##GetWorkspaceSize(const aclTensor *self, const aclTensor *other, const void *alpha, aclTensor *out, \
                               WSA) {                                                                   \
        FExec *e = begin(#NAME, k_binary);                                                              \
        tensor(e, self, "self", 1), tensor(e, other, "other", 1), tensor(e, out, "out", 1);            \
        scalar(e, alpha, "alpha");                                                                      \
        need(e, err || (broadcasts(&e->t[0], &e->t[2]) && broadcasts(&e->t[1], &e->t[2])),             \
             "self and other do not broadcast to out's shape");                                         \
        return finish(e, ws, ex);                                                                       \
    }                                                                                                   \
    SECOND(NAME)

UNARY(aclnnNeg) UNARY(aclnnAbs) UNARY(aclnnSign) UNARY(aclnnExp) UNARY(aclnnLog) UNARY(aclnnLog1p)
UNARY(aclnnExpm1) UNARY(aclnnSqrt) UNARY(aclnnRsqrt) UNARY(aclnnSin) UNARY(aclnnCos) UNARY(aclnnTan)
UNARY(aclnnTanh) UNARY(aclnnSigmoid) UNARY(aclnnErf) UNARY(aclnnFloor) UNARY(aclnnCeil) UNARY(aclnnRound)
UNARY(aclnnTrunc) UNARY(aclnnReciprocal) UNARY(aclnnRelu) UNARY(aclnnLogicalNot) UNARY(aclnnBitwiseNot)
UNARY(aclnnAsin) UNARY(aclnnAcos) UNARY(aclnnAtan) UNARY(aclnnSinh) UNARY(aclnnCosh) UNARY(aclnnLog2)
UNARY(aclnnExp2) UNARY(aclnnErfc) UNARY(aclnnLgamma) UNARY(aclnnDigamma)

BINARY(aclnnMul) BINARY(aclnnDiv) BINARY(aclnnFloorDivide) BINARY(aclnnPowTensorTensor) BINARY(aclnnMaximum)
BINARY(aclnnMinimum) BINARY(aclnnFmodTensor) BINARY(aclnnRemainderTensorTensor) BINARY(aclnnAtan2)
BINARY(aclnnBitwiseAndTensor) BINARY(aclnnBitwiseOrTensor) BINARY(aclnnBitwiseXorTensor) BINARY(aclnnEqTensor)
BINARY(aclnnNeTensor) BINARY(aclnnLtTensor) BINARY(aclnnLeTensor) BINARY(aclnnGtTensor) BINARY(aclnnGeTensor)
BINARY(aclnnLogicalAnd) BINARY(aclnnLogicalOr) BINARY(aclnnLogicalXor)

ALPHA(aclnnAdd) ALPHA(aclnnSub)

int aclnnInplaceAddGetWorkspaceSize(aclTensor *self, const aclTensor *other, const void *alpha, WSA) {
    FExec *e = begin("aclnnInplaceAdd", k_binary);
    tensor(e, self, "selfRef", 1), tensor(e, other, "other", 1), tensor(e, self, "selfRef", 1);
    scalar(e, alpha, "alpha");
    need(e, err || broadcasts(&e->t[1], &e->t[0]), "other does not broadcast to selfRef");
    return finish(e, ws, ex);
}
SECOND(aclnnInplaceAdd)

/* aclnnConvolution's dtypes on the Atlas A2 (a 910B) */
static int conv_dtype(const FTensor *t) { return t->dtype == F_FLOAT16 || t->dtype == F_BF16 || t->dtype == F_FLOAT; }

int aclnnPolygammaGetWorkspaceSize(int64_t n, const aclTensor *self, aclTensor *out, WSA) {
    FExec *e = begin("aclnnPolygamma", k_polygamma);
    e->i[e->ni++] = n;
    tensor(e, self, "self", 1), tensor(e, out, "out", 1);
    need(e, n >= 0, "n is negative");
    return finish(e, ws, ex);
}
SECOND(aclnnPolygamma)

int aclnnSWhereGetWorkspaceSize(const aclTensor *c, const aclTensor *self, const aclTensor *other, aclTensor *out, WSA) {
    FExec *e = begin("aclnnSWhere", k_where);
    tensor(e, c, "condition", 1), tensor(e, self, "self", 1), tensor(e, other, "other", 1), tensor(e, out, "out", 1);
    need(e, err || e->t[0].dtype == F_BOOL || e->t[0].dtype == F_UINT8, "condition must be BOOL or UINT8");
    return finish(e, ws, ex);
}
SECOND(aclnnSWhere)

int aclnnCastGetWorkspaceSize(const aclTensor *self, int dtype, aclTensor *out, WSA) {
    FExec *e = begin("aclnnCast", k_cast);
    tensor(e, self, "self", 1), tensor(e, out, "out", 1);
    need(e, err || e->t[1].dtype == dtype, "dtype differs from out's dtype");
    need(e, err || same_shape(&e->t[0], &e->t[1]), "self and out differ in shape");
    return finish(e, ws, ex);
}
SECOND(aclnnCast)

int aclnnInplaceCopyGetWorkspaceSize(aclTensor *self, const aclTensor *src, WSA) {
    FExec *e = begin("aclnnInplaceCopy", k_copy);
    tensor(e, self, "selfRef", 1), tensor(e, src, "src", 1);
    need(e, err || broadcasts(&e->t[1], &e->t[0]), "src does not broadcast to selfRef");
    return finish(e, ws, ex);
}
SECOND(aclnnInplaceCopy)

int aclnnInplaceFillScalarGetWorkspaceSize(aclTensor *self, const void *value, WSA) {
    FExec *e = begin("aclnnInplaceFillScalar", k_fill);
    tensor(e, self, "selfRef", 1), scalar(e, value, "value");
    return finish(e, ws, ex);
}
SECOND(aclnnInplaceFillScalar)

int aclnnArangeGetWorkspaceSize(const void *start, const void *end, const void *step, aclTensor *out, WSA) {
    FExec *e = begin("aclnnArange", k_arange);
    scalar(e, start, "start"), scalar(e, end, "end"), scalar(e, step, "step"), tensor(e, out, "out", 1);
    if (!err) {
        double n = __builtin_ceil((e->s[1].f - e->s[0].f) / e->s[2].f);
        need(e, e->s[2].f != 0, "step is zero");
        need(e, e->t[0].ndim == 1 && (double)e->t[0].dims[0] == (n < 0 ? 0 : n),
             "out's size is not ceil((end - start) / step)");
    }
    return finish(e, ws, ex);
}
SECOND(aclnnArange)

int aclnnCatGetWorkspaceSize(const void *tensors, int64_t dim, aclTensor *out, WSA) {
    FExec *e = begin("aclnnCat", k_cat);
    e->i[e->ni++] = dim;
    list(e, tensors, "tensors"), tensor(e, out, "out", 1);
    return finish(e, ws, ex);
}
SECOND(aclnnCat)

int aclnnConstantPadNdGetWorkspaceSize(const aclTensor *self, const void *pad, const void *value, aclTensor *out, WSA) {
    FExec *e = begin("aclnnConstantPadNd", k_pad);
    tensor(e, self, "self", 1), ints(e, pad, "pad", 1), scalar(e, value, "value"), tensor(e, out, "out", 1);
    need(e, err || (e->a[0].n % 2 == 0 && e->a[0].n <= 2 * e->t[0].ndim), "pad's length is odd or too long");
    return finish(e, ws, ex);
}
SECOND(aclnnConstantPadNd)

int aclnnReduceSumGetWorkspaceSize(const aclTensor *self, const void *dims, bool keep, int dtype, aclTensor *out, WSA) {
    FExec *e = begin("aclnnReduceSum", k_reduce);
    tensor(e, self, "self", 1), ints(e, dims, "dim", 1), tensor(e, out, "out", 1);
    e->b[e->nb++] = keep, e->dtype_arg = dtype;
    need(e, err || e->t[1].dtype == dtype, "dtype differs from out's dtype");
    return finish(e, ws, ex);
}
SECOND(aclnnReduceSum)

#define AMAXMIN(NAME)                                                                                    \
    int NAME##GetWorkspaceSize(const aclTensor *self, const void *dims, bool keep, aclTensor *out, WSA) { \
        FExec *e = begin(#NAME, k_reduce);                                                               \
        tensor(e, self, "self", 1), ints(e, dims, "dim", 1), tensor(e, out, "out", 1);                  \
        e->b[e->nb++] = keep;                                                                            \
        return finish(e, ws, ex);                                                                        \
    }                                                                                                    \
    SECOND(NAME)
AMAXMIN(aclnnAmax) AMAXMIN(aclnnAmin)

int aclnnProdDimGetWorkspaceSize(const aclTensor *self, int64_t dim, bool keep, int dtype, aclTensor *out, WSA) {
    FExec *e = begin("aclnnProdDim", k_prod_dim);
    tensor(e, self, "self", 1), tensor(e, out, "out", 1);
    e->i[e->ni++] = dim, e->b[e->nb++] = keep, e->dtype_arg = dtype;
    need(e, err || (dim >= -e->t[0].ndim && dim < (e->t[0].ndim ? e->t[0].ndim : 1)), "dim out of range");
    return finish(e, ws, ex);
}
SECOND(aclnnProdDim)

#define ARG(NAME)                                                                                   \
    int NAME##GetWorkspaceSize(const aclTensor *self, int64_t dim, bool keep, aclTensor *out, WSA) { \
        FExec *e = begin(#NAME, k_arg);                                                             \
        tensor(e, self, "self", 1), tensor(e, out, "out", 1);                                      \
        e->i[e->ni++] = dim, e->b[e->nb++] = keep;                                                  \
        need(e, err || e->t[1].dtype == F_INT64, "out must be INT64");                              \
        return finish(e, ws, ex);                                                                   \
    }                                                                                               \
    SECOND(NAME)
ARG(aclnnArgMax) ARG(aclnnArgMin)

int aclnnCumsumGetWorkspaceSize(const aclTensor *self, int64_t dim, int dtype, aclTensor *out, WSA) {
    FExec *e = begin("aclnnCumsum", k_cum);
    tensor(e, self, "self", 1), tensor(e, out, "out", 1);
    e->i[e->ni++] = dim, e->dtype_arg = dtype;
    return finish(e, ws, ex);
}
SECOND(aclnnCumsum)

int aclnnCumprodGetWorkspaceSize(const aclTensor *self, const void *dim, int dtype, aclTensor *out, WSA) {
    FExec *e = begin("aclnnCumprod", k_cum);
    tensor(e, self, "input", 1), scalar(e, dim, "dim"), tensor(e, out, "out", 1);
    e->dtype_arg = dtype;
    return finish(e, ws, ex);
}
SECOND(aclnnCumprod)

int aclnnBatchMatMulGetWorkspaceSize(const aclTensor *self, const aclTensor *mat2, aclTensor *out, int8_t cube, WSA) {
    FExec *e = begin("aclnnBatchMatMul", k_bmm);
    tensor(e, self, "self", 1), tensor(e, mat2, "mat2", 1), tensor(e, out, "out", 1);
    e->i[e->ni++] = cube;
    need(e, err || (e->t[0].ndim == 3 && e->t[1].ndim == 3 && e->t[2].ndim == 3), "self, mat2 and out must be 3-d");
    need(e, err || e->t[0].dims[2] == e->t[1].dims[1], "self's K differs from mat2's");
    for (int i = 0; i < 3; i++) /* the Atlas A2 list: other dtypes are 161002 on a 910B */
        need(e, err || e->t[i].dtype == F_FLOAT16 || e->t[i].dtype == F_BF16 || e->t[i].dtype == F_FLOAT,
             "self, mat2 and out must be FLOAT16, BFLOAT16 or FLOAT");
    return finish(e, ws, ex);
}
SECOND(aclnnBatchMatMul)

int aclnnConvolutionGetWorkspaceSize(const aclTensor *input, const aclTensor *weight, const aclTensor *bias,
                                     const void *stride, const void *padding, const void *dilation, bool transposed,
                                     const void *out_pad, int64_t groups, aclTensor *out, int8_t cube, WSA) {
    FExec *e = begin("aclnnConvolution", k_conv);
    tensor(e, input, "input", 1), tensor(e, weight, "weight", 1), tensor(e, bias, "bias", 0), tensor(e, out, "output", 1);
    ints(e, stride, "stride", 1), ints(e, padding, "padding", 1), ints(e, dilation, "dilation", 1);
    ints(e, out_pad, "outputPadding", 1);
    e->i[e->ni++] = groups, e->b[e->nb++] = transposed, (void)cube;
    need(e, !transposed, "transposed convolution is not modelled by the fake");
    need(e, err || (conv_dtype(&e->t[0]) && conv_dtype(&e->t[1]) && conv_dtype(&e->t[3])),
         "input, weight and output must be FLOAT16, BFLOAT16 or FLOAT");
    need(e, err || (e->t[0].ndim == 4 && e->t[0].dims[1] == e->t[1].dims[1] * groups), "input channels != weight's * groups");
    return finish(e, ws, ex);
}
SECOND(aclnnConvolution)

int aclnnConvolutionBackwardGetWorkspaceSize(const aclTensor *gy, const aclTensor *input, const aclTensor *weight,
                                             const void *bias_sizes, const void *stride, const void *padding,
                                             const void *dilation, bool transposed, const void *out_pad, int groups,
                                             const void *mask, int8_t cube, aclTensor *gx, aclTensor *gw,
                                             aclTensor *gb, WSA) {
    FExec *e = begin("aclnnConvolutionBackward", k_conv_bwd);
    const FBoolArray *m = mask;
    tensor(e, gy, "gradOutput", 1), tensor(e, input, "input", 1), tensor(e, weight, "weight", 1);
    int want = m && m->magic == M_BOOLS && m->alive && m->n == 3;
    need(e, want, "outputMask is not a live aclBoolArray of 3");
    tensor(e, gx, "gradInput", want && m->v[0]), tensor(e, gw, "gradWeight", want && m->v[1]);
    tensor(e, gb, "gradBias", want && m->v[2]);
    ints(e, stride, "stride", 1), ints(e, padding, "padding", 1), ints(e, dilation, "dilation", 1);
    ints(e, out_pad, "outputPadding", 1), ints(e, bias_sizes, "biasSizes", 0);
    if (want)
        e->mask = *m;
    need(e, err || (conv_dtype(&e->t[0]) && conv_dtype(&e->t[1]) && conv_dtype(&e->t[2])),
         "gradOutput, input and weight must be FLOAT16, BFLOAT16 or FLOAT");
    e->i[e->ni++] = groups, (void)transposed, (void)cube;
    return finish(e, ws, ex);
}
SECOND(aclnnConvolutionBackward)

#define GATHER(NAME, KERNEL)                                                                            \
    int NAME##GetWorkspaceSize(const aclTensor *self, int64_t dim, const aclTensor *index, aclTensor *out, WSA) { \
        FExec *e = begin(#NAME, KERNEL);                                                                \
        e->i[e->ni++] = dim;                                                                            \
        tensor(e, self, "self", 1), tensor(e, index, "index", 1), tensor(e, out, "out", 1);            \
        need(e, err || e->t[1].dtype == F_INT64 || e->t[1].dtype == F_INT32, "index must be INT64 or INT32"); \
        return finish(e, ws, ex);                                                                       \
    }                                                                                                   \
    SECOND(NAME)
GATHER(aclnnGather, k_gather) GATHER(aclnnIndexSelect, k_index_select)

int aclnnScatterGetWorkspaceSize(const aclTensor *self, int64_t dim, const aclTensor *index, const aclTensor *src,
                                 int64_t reduce, aclTensor *out, WSA) {
    FExec *e = begin("aclnnScatter", k_scatter);
    e->i[e->ni++] = dim, e->i[e->ni++] = reduce;
    tensor(e, self, "self", 1), tensor(e, index, "index", 1), tensor(e, src, "src", 1), tensor(e, out, "out", 1);
    need(e, reduce >= 0 && reduce <= 2, "reduce must be 0 (none), 1 (add) or 2 (multiply)");
    return finish(e, ws, ex);
}
SECOND(aclnnScatter)

int aclnnScatterAddGetWorkspaceSize(const aclTensor *self, int64_t dim, const aclTensor *index, const aclTensor *src,
                                    aclTensor *out, WSA) {
    FExec *e = begin("aclnnScatterAdd", k_scatter);
    e->i[e->ni++] = dim;
    tensor(e, self, "self", 1), tensor(e, index, "index", 1), tensor(e, src, "src", 1), tensor(e, out, "out", 1);
    return finish(e, ws, ex);
}
SECOND(aclnnScatterAdd)

int aclnnIndexAddGetWorkspaceSize(const aclTensor *self, int64_t dim, const aclTensor *index, const aclTensor *source,
                                  const void *alpha, aclTensor *out, WSA) {
    FExec *e = begin("aclnnIndexAdd", k_index_add);
    e->i[e->ni++] = dim;
    tensor(e, self, "self", 1), tensor(e, index, "index", 1), tensor(e, source, "source", 1), tensor(e, out, "out", 1);
    scalar(e, alpha, "alpha");
    return finish(e, ws, ex);
}
SECOND(aclnnIndexAdd)

int aclnnIndexGetWorkspaceSize(const aclTensor *self, const void *indices, aclTensor *out, WSA) {
    FExec *e = begin("aclnnIndex", k_index);
    tensor(e, self, "self", 1), list(e, indices, "indices"), tensor(e, out, "out", 1);
    return finish(e, ws, ex);
}
SECOND(aclnnIndex)

int aclnnIndexPutImplGetWorkspaceSize(aclTensor *self, const void *indices, const aclTensor *values, bool accumulate,
                                      bool unsafe, WSA) {
    FExec *e = begin("aclnnIndexPutImpl", k_index_put);
    tensor(e, self, "selfRef", 1), list(e, indices, "indices"), tensor(e, values, "values", 1);
    e->b[e->nb++] = accumulate, e->b[e->nb++] = unsafe;
    return finish(e, ws, ex);
}
SECOND(aclnnIndexPutImpl)

int aclnnSortGetWorkspaceSize(const aclTensor *self, bool stable, int64_t dim, bool descending, aclTensor *values,
                              aclTensor *indices, WSA) {
    FExec *e = begin("aclnnSort", k_sort);
    tensor(e, self, "self", 1), tensor(e, values, "valuesOut", 1), tensor(e, indices, "indicesOut", 1);
    e->i[e->ni++] = dim, e->b[e->nb++] = stable, e->b[e->nb++] = descending;
    need(e, err || e->t[2].dtype == F_INT64, "indicesOut must be INT64");
    return finish(e, ws, ex);
}
SECOND(aclnnSort)

int aclnnTopkGetWorkspaceSize(const aclTensor *self, int64_t k, int64_t dim, bool largest, bool sorted,
                              aclTensor *values, aclTensor *indices, WSA) {
    FExec *e = begin("aclnnTopk", k_sort);
    tensor(e, self, "self", 1), tensor(e, values, "valuesOut", 1), tensor(e, indices, "indicesOut", 1);
    e->i[e->ni++] = k, e->i[e->ni++] = dim, e->b[e->nb++] = largest, e->b[e->nb++] = sorted;
    need(e, k >= 0, "k is negative");
    return finish(e, ws, ex);
}
SECOND(aclnnTopk)

int aclnnFlipGetWorkspaceSize(const aclTensor *self, const void *dims, aclTensor *out, WSA) {
    FExec *e = begin("aclnnFlip", k_flip);
    tensor(e, self, "self", 1), ints(e, dims, "dims", 1), tensor(e, out, "out", 1);
    need(e, err || same_shape(&e->t[0], &e->t[1]), "self and out differ in shape");
    return finish(e, ws, ex);
}
SECOND(aclnnFlip)
