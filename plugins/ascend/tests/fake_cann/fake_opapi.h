/* fake_opapi.h: an aclnn executor of the fake CANN (fake_opapi.c makes it in the first phase,
 * snapshotting every argument as CANN's executors do; fake_kernels.c computes it on the CPU
 * when its stream runs it). */
#ifndef FAKE_OPAPI_H
#define FAKE_OPAPI_H

#include "fake_cann.h"

#define FMAX_T 264

typedef struct FExec FExec;
typedef void (*fkernel)(FExec *);

struct FExec {
    uint32_t magic;
    int32_t id, used;
    const char *op;  /* "aclnnAdd" */
    fkernel kernel;
    FTensor t[FMAX_T]; /* the tensor arguments in signature order (lists' tensors appended) */
    int present[FMAX_T];
    int32_t nt, list_first, list_n;
    FScalar s[3];
    int32_t ns;
    FIntArray a[4];
    int32_t na;
    FBoolArray mask;
    int64_t i[4]; /* integer arguments (dim, reduce, k, groups...) in signature order */
    int32_t ni;
    bool b[4];    /* bool arguments in signature order */
    int32_t nb;
    int32_t dtype_arg;
    uint64_t workspace;
};

/* fake_kernels.c: element access over a descriptor's strides and dtype */
double fk_getf(const FTensor *t, const int64_t *idx);
int64_t fk_geti(const FTensor *t, const int64_t *idx);
void fk_putf(const FTensor *t, const int64_t *idx, double v);
void fk_puti(const FTensor *t, const int64_t *idx, int64_t v);
int fk_isfloat(int32_t dtype);
int64_t fk_numel(const FTensor *t);

/* the kernels, by signature family */
void k_unary(FExec *e);
void k_binary(FExec *e);
void k_polygamma(FExec *e);
void k_where(FExec *e);
void k_cast(FExec *e);
void k_copy(FExec *e);
void k_fill(FExec *e);
void k_arange(FExec *e);
void k_cat(FExec *e);
void k_pad(FExec *e);
void k_reduce(FExec *e);
void k_prod_dim(FExec *e);
void k_arg(FExec *e);
void k_cum(FExec *e);
void k_bmm(FExec *e);
void k_conv(FExec *e);
void k_conv_bwd(FExec *e);
void k_gather(FExec *e);
void k_index_select(FExec *e);
void k_scatter(FExec *e);
void k_index_add(FExec *e);
void k_index(FExec *e);
void k_index_put(FExec *e);
void k_sort(FExec *e);
void k_flip(FExec *e);

#endif /* FAKE_OPAPI_H */
