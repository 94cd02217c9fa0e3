/* dsk_program.c: the arguments of a generated elementwise program (dsk_planner.h). */
#include <string.h>

#include "dsk_planner.h"

int dsk_program_call(const dsk_hooks *hooks, void *ctx, const ds_tensor_desc *tensors, int32_t n,
                     dsk_program_args *a) {
    if (n < 1 || n > DSK_FMAXT || tensors == NULL) return DSK_PUNT;
    dsk_launch L; /* only what dsk_in_bounds reads */
    memset(&L, 0, sizeof L);
    L.hooks = hooks;
    L.ctx = ctx;
    const int64_t *strides[DSK_FMAXT];
    int64_t offsets[DSK_FMAXT];
    for (int i = 0; i < n; ++i) {
        dsk_tensor *t = &a->t[i];
        if (dsk_parse(&tensors[i], t) != DSK_DONE) return DSK_PUNT;
        if (t->dtype != a->t[0].dtype || !dsk_same_shape(t, &a->t[0])) return DSK_PUNT;
        if (dsk_in_bounds(&L, t) != DSK_DONE) return DSK_PUNT;
        strides[i] = t->strides;
        offsets[i] = t->offset;
    }
    a->numel = a->t[0].numel;
    a->nargs = 0;
    if (a->numel == 0) return DSK_DONE;
    if (a->numel > INT64_MAX / 2) return DSK_PUNT;
    DSK_ANSWER(dsk_make_meta(a->t[0].shape, a->t[0].ndim, n, strides, offsets, a->meta));
    for (int i = 0; i < n; ++i) a->args[a->nargs++] = DSK_MEM(&a->t[i]);
    a->args[a->nargs++] = (dsk_arg){sizeof(int64_t) * DSK_META_LONGS(n), a->meta};
    a->args[a->nargs++] = DSK_LONG(a->numel);
    a->global = dsk_roundup(a->numel, DSK_LS);
    return DSK_DONE;
}
