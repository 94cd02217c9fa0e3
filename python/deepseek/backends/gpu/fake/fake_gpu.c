/* fake_gpu.c: what every fake GPU runtime of the plugins' tests shares, for a vendor's fake
 * (plugins/rocm/tests/fake_runtime/fake_hip.c) to #include before its API functions:
 *
 *  - memory: blocks of host RAM standing for device memory (a device pointer is the host
 *    address of its block) and for pinned host memory, with a per-device budget;
 *  - the call log: one line per call, "name key=value ... -> status", appended to a file;
 *  - failure injection: "name:status[@n],..." makes a call answer `status` (on its n-th call
 *    since the specification last changed, or on every call without @n);
 *  - one lock for all of it, and a clock for events.
 *
 * The including file defines FG_ENV (the prefix of its environment variables, "FAKE_HIP_");
 * the variables are <FG_ENV>LOG (the log file) and <FG_ENV>FAIL (the injections), read at every
 * call so a test may change them between calls. A vendor fake is built by the tests with the
 * system C compiler and `-I` this folder (deepseek.backends.gpu.build.fake_dir()).
 */
#ifndef FG_ENV
#error "define FG_ENV, the prefix of the fake's environment variables, before including fake_gpu.c"
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A fake uses what it needs of these. */
#define FG_FN static __attribute__((unused))

typedef struct fg_block {
    char *base;
    size_t size;
    int device, pinned, live;
} fg_block;

typedef struct fg_rule {
    char name[64];
    int status, nth, seen;
} fg_rule;

static pthread_mutex_t fg_mutex = PTHREAD_MUTEX_INITIALIZER;
static fg_block *fg_blocks;
static size_t fg_count, fg_capacity;
static fg_rule fg_rules[64];
static int fg_nrules;
static char fg_spec[2048];
static FILE *fg_logfile;
static char fg_logname[1024];

FG_FN void fg_lock(void) { pthread_mutex_lock(&fg_mutex); }
FG_FN void fg_unlock(void) { pthread_mutex_unlock(&fg_mutex); }

/* The environment variable `name` (FG_GETENV prefixes FG_ENV), or NULL when unset or empty. */
FG_FN const char *fg_env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}
#define FG_GETENV(suffix) fg_env(FG_ENV suffix)

FG_FN long long fg_env_number(const char *value, long long fallback) {
    return value ? strtoll(value, NULL, 10) : fallback;
}

FG_FN void fg_log(const char *fmt, ...) {
    const char *path = FG_GETENV("LOG");
    if (!path) return;
    if (!fg_logfile || strcmp(path, fg_logname) != 0) {
        if (fg_logfile) fclose(fg_logfile);
        snprintf(fg_logname, sizeof fg_logname, "%s", path);
        fg_logfile = fopen(path, "a");
    }
    if (!fg_logfile) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(fg_logfile, fmt, ap);
    va_end(ap);
    fputc('\n', fg_logfile);
    fflush(fg_logfile);
}

/* Reads <FG_ENV>FAIL into rules when it changed (their call counts start again). */
FG_FN void fg_read_rules(void) {
    const char *spec = FG_GETENV("FAIL");
    if (!spec) spec = "";
    if (!strcmp(spec, fg_spec)) return;
    snprintf(fg_spec, sizeof fg_spec, "%s", spec);
    fg_nrules = 0;
    char copy[sizeof fg_spec];
    snprintf(copy, sizeof copy, "%s", spec);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item && fg_nrules < 64;
         item = strtok_r(NULL, ",", &save)) {
        fg_rule *r = &fg_rules[fg_nrules];
        char *colon = strchr(item, ':');
        if (!colon) continue;
        *colon = 0;
        snprintf(r->name, sizeof r->name, "%s", item);
        r->status = atoi(colon + 1);
        char *at = strchr(colon + 1, '@');
        r->nth = at ? atoi(at + 1) : 0;
        r->seen = 0;
        fg_nrules++;
    }
}

/* The status injected into this call of `name`, or 0. */
FG_FN int fg_injected(const char *name) {
    fg_read_rules();
    int status = 0;
    for (int i = 0; i < fg_nrules; i++) {
        fg_rule *r = &fg_rules[i];
        if (strcmp(r->name, name)) continue;
        r->seen++;
        if (!status && (r->nth == 0 || r->nth == r->seen)) status = r->status;
    }
    return status;
}

/* The live block holding [p, p + n) of the given kind, or NULL. */
FG_FN fg_block *fg_find(const void *p, size_t n, int pinned) {
    const char *c = p;
    for (size_t i = 0; i < fg_count; i++) {
        fg_block *b = &fg_blocks[i];
        if (b->live && b->pinned == pinned && c >= b->base && c + n <= b->base + b->size) return b;
    }
    return NULL;
}

/* Bytes of device memory in use on `device`. */
FG_FN size_t fg_used(int device) {
    size_t used = 0;
    for (size_t i = 0; i < fg_count; i++)
        if (fg_blocks[i].live && !fg_blocks[i].pinned && fg_blocks[i].device == device) used += fg_blocks[i].size;
    return used;
}

/* A new block of n bytes (filled with 0xCD, so a read of memory never written shows); 0, or
 * -1 when the device's `budget` (device memory) or the host is exhausted. */
FG_FN int fg_alloc(void **out, size_t n, int device, int pinned, size_t budget) {
    if (!pinned && fg_used(device) + n > budget) return -1;
    if (fg_count == fg_capacity) {
        size_t cap = fg_capacity ? 2 * fg_capacity : 256;
        fg_block *grown = realloc(fg_blocks, cap * sizeof *grown);
        if (!grown) return -1;
        fg_blocks = grown, fg_capacity = cap;
    }
    char *p = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!p) return -1;
    memset(p, 0xCD, n);
    fg_blocks[fg_count++] = (fg_block){p, n, device, pinned, 1};
    *out = p;
    return 0;
}

/* Frees the block that starts at p; -1 when there is none of that kind. */
FG_FN int fg_release(void *p, int pinned) {
    for (size_t i = 0; i < fg_count; i++) {
        fg_block *b = &fg_blocks[i];
        if (b->live && b->pinned == pinned && b->base == p) {
            free(b->base);
            *b = fg_blocks[--fg_count]; /* the last takes its place */
            return 0;
        }
    }
    return -1;
}

FG_FN double fg_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
