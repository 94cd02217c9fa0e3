/* dsk_planner.c: the whole planner as one translation unit, for a backend's build to compile
 * (or to #include into its own C file): see dsk_plan.h. */
#include "dsk_tensors.c"
#include "dsk_ops.c"
#include "dsk_elementwise.c"
#include "dsk_reduce.c"
#include "dsk_matmul.c"
#include "dsk_index.c"
#include "dsk_conv.c"
#include "dsk_sort.c"
#include "dsk_program.c"
