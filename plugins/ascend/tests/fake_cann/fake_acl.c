/* fake_acl.c: libascendcl.so of the fake CANN: aclInit, devices, streams, memory in host RAM
 * (aclrtMalloc/aclrtFree/aclrtMemcpy*), aclGetRecentErrMsg, and the call log. Work queued on
 * a stream (aclnn operators, async copies) runs in order when the stream is synchronised.
 * Environment: FAKE_ACL_LOG (the log's path), FAKE_ACL_DEVICES (count, 1), FAKE_ACL_MEM
 * (bytes per device, 1 GiB), FAKE_ACL_SOC (the chip's name, Ascend910B1). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_cann.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int inited, n_dev = -1;
static __thread int cur_dev = -1;
static char recent[1024];
static int32_t ids;

typedef struct block { char *p; uint64_t n; int dev, alive; } block;
static block *blocks;
static int64_t n_blocks, cap_blocks;
static uint64_t used[64];

typedef struct work { void (*fn)(void *); void *arg; const char *what; void *uses[8]; int n_uses; } work;
typedef struct stream { int id, dev, alive; work *q; int64_t n, cap; } stream;
static stream *streams[256];
static int n_streams;

void fake_log(const char *fmt, ...) {
    const char *path = getenv("FAKE_ACL_LOG");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

int fake_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(recent, sizeof recent, fmt, ap);
    va_end(ap);
    return code;
}

const char *aclGetRecentErrMsg(void) {
    static __thread char out[1024];
    snprintf(out, sizeof out, "%s", recent);
    recent[0] = 0; /* CANN hands each message out once */
    return out[0] ? out : NULL;
}

int32_t fake_next_id(void) { return __sync_add_and_fetch(&ids, 1); }

int fake_dtype_size(int32_t dt) {
    switch (dt) {
    case F_BOOL: case F_UINT8: case F_INT8: return 1;
    case F_INT16: case F_FLOAT16: case F_BF16: return 2;
    case F_INT32: case F_FLOAT: return 4;
    case F_INT64: case F_DOUBLE: return 8;
    default: return 0;
    }
}

static int env_int(const char *name, int dflt) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

static uint64_t mem_per_device(void) {
    const char *v = getenv("FAKE_ACL_MEM");
    return v && *v ? strtoull(v, NULL, 10) : (1ull << 30);
}

int aclInit(const char *config) {
    (void)config;
    pthread_mutex_lock(&mu);
    int rc = inited ? 100002 : 0; /* ACL_ERROR_REPEAT_INITIALIZE */
    inited = 1;
    n_dev = env_int("FAKE_ACL_DEVICES", 1);
    pthread_mutex_unlock(&mu);
    fake_log("aclInit -> %d", rc);
    return rc;
}

int aclFinalize(void) {
    fake_log("aclFinalize -> 0");
    return 0;
}

int aclrtGetDeviceCount(uint32_t *count) {
    int rc = !inited ? fake_error(100000, "EH9999: aclInit was not called") : !count ? 100000 : 0;
    if (!rc)
        *count = (uint32_t)n_dev;
    fake_log("aclrtGetDeviceCount count=%d -> %d", rc ? -1 : n_dev, rc);
    return rc;
}

int aclrtSetDevice(int32_t d) {
    int rc = !inited ? fake_error(100000, "EH9999: aclInit was not called")
           : (d < 0 || d >= n_dev) ? fake_error(107001, "EE1001: invalid device id %d", d) : 0;
    if (!rc)
        cur_dev = d;
    return rc; /* not logged: called before every entry */
}

int aclrtGetDevice(int32_t *d) {
    if (!d || cur_dev < 0)
        return 107002; /* ACL_ERROR_RT_CONTEXT_NULL: no device is current on this thread */
    *d = cur_dev;
    return 0;
}

const char *aclrtGetSocName(void) {
    const char *v = getenv("FAKE_ACL_SOC");
    return v && *v ? v : "Ascend910B1";
}

int aclrtGetMemInfo(int attr, size_t *free_b, size_t *total) {
    if (cur_dev < 0 || !free_b || !total)
        return fake_error(E_RT_PARAM, "EE1001: aclrtGetMemInfo: no current device or a null pointer");
    *total = mem_per_device();
    *free_b = *total - used[cur_dev];
    fake_log("aclrtGetMemInfo attr=%d free=%zu total=%zu -> 0", attr, *free_b, *total);
    return 0;
}

int aclrtCreateStream(void **s) {
    if (cur_dev < 0 || !s)
        return fake_error(E_RT_PARAM, "EE1001: aclrtCreateStream: no current device or a null pointer");
    pthread_mutex_lock(&mu);
    stream *st = calloc(1, sizeof *st);
    st->id = ++n_streams, st->dev = cur_dev, st->alive = 1;
    streams[st->id % 256] = st;
    pthread_mutex_unlock(&mu);
    *s = st;
    fake_log("aclrtCreateStream stream=%d device=%d -> 0", st->id, st->dev);
    return 0;
}

int fake_stream_ok(void *s) {
    for (int i = 0; i < 256; i++)
        if (streams[i] == s && s && ((stream *)s)->alive)
            return 1;
    return 0;
}

int fake_stream_id(void *s) { return fake_stream_ok(s) ? ((stream *)s)->id : -1; }

static void drain(stream *st) {
    for (int64_t i = 0; i < st->n; i++) {
        fake_log("run op=%s stream=%d -> 0", st->q[i].what, st->id);
        st->q[i].fn(st->q[i].arg);
    }
    st->n = 0;
}

void fake_enqueue(void *s, void (*fn)(void *), void *arg, const char *what, void *const *uses, int n_uses) {
    stream *st = s;
    pthread_mutex_lock(&mu);
    if (st->n == st->cap) {
        st->cap = st->cap ? 2 * st->cap : 64;
        st->q = realloc(st->q, (size_t)st->cap * sizeof(work));
    }
    work *w = &st->q[st->n++];
    w->fn = fn, w->arg = arg, w->what = what, w->n_uses = n_uses < 8 ? n_uses : 8;
    for (int i = 0; i < w->n_uses; i++)
        w->uses[i] = uses[i];
    pthread_mutex_unlock(&mu);
}

int aclrtSynchronizeStream(void *s) {
    int rc = fake_stream_ok(s) ? 0 : fake_error(E_RT_PARAM, "EE1001: aclrtSynchronizeStream: invalid stream");
    if (!rc)
        drain(s);
    fake_log("aclrtSynchronizeStream stream=%d -> %d", rc ? -1 : ((stream *)s)->id, rc);
    return rc;
}

int aclrtDestroyStream(void *s) {
    int rc = fake_stream_ok(s) ? 0 : fake_error(E_RT_PARAM, "EE1001: aclrtDestroyStream: invalid stream");
    if (!rc) {
        drain(s);
        ((stream *)s)->alive = 0;
    }
    fake_log("aclrtDestroyStream stream=%d -> %d", rc ? -1 : ((stream *)s)->id, rc);
    return rc;
}

int aclrtMalloc(void **p, size_t n, int policy) {
    int rc = 0;
    if (!p || n == 0)
        rc = fake_error(E_RT_PARAM, "EE1001: aclrtMalloc: devPtr is null or size is 0");
    else if (cur_dev < 0)
        rc = fake_error(E_RT_PARAM, "EE1001: aclrtMalloc: no current device (aclrtSetDevice)");
    else if (used[cur_dev] + n > mem_per_device())
        rc = fake_error(E_RT_MEM, "EL0004: failed to allocate memory: %zu bytes, %llu in use", n,
                        (unsigned long long)used[cur_dev]);
    if (!rc) {
        pthread_mutex_lock(&mu);
        if (n_blocks == cap_blocks) {
            cap_blocks = cap_blocks ? 2 * cap_blocks : 1024;
            blocks = realloc(blocks, (size_t)cap_blocks * sizeof *blocks);
        }
        char *m = calloc(1, n);
        blocks[n_blocks++] = (block){m, n, cur_dev, 1};
        used[cur_dev] += n;
        pthread_mutex_unlock(&mu);
        *p = m;
    }
    fake_log("aclrtMalloc ptr=%p size=%zu policy=%d device=%d -> %d", rc ? NULL : *p, n, policy, cur_dev, rc);
    return rc;
}

static block *find(const void *p) {
    for (int64_t i = n_blocks - 1; i >= 0; i--)
        if (blocks[i].alive && (const char *)p >= blocks[i].p && (const char *)p < blocks[i].p + blocks[i].n)
            return &blocks[i];
    return NULL;
}

int fake_in_block(const void *p, uint64_t nbytes) {
    pthread_mutex_lock(&mu);
    block *b = find(p);
    int ok = b && (const char *)p + nbytes <= b->p + b->n;
    pthread_mutex_unlock(&mu);
    return ok;
}

int aclrtFree(void *p) {
    int rc = 0;
    pthread_mutex_lock(&mu);
    block *b = find(p);
    if (!b || b->p != p)
        rc = fake_error(E_RT_PARAM, "EE1001: aclrtFree: %p is not a device allocation", p);
    for (int s = 0; s < 256 && !rc; s++) /* still used by work a stream has not run */
        for (int64_t i = 0; streams[s] && i < streams[s]->n && !rc; i++)
            for (int k = 0; k < streams[s]->q[i].n_uses; k++)
                if ((char *)streams[s]->q[i].uses[k] >= b->p && (char *)streams[s]->q[i].uses[k] < b->p + b->n)
                    rc = fake_error(E_RT_PARAM, "EE1001: aclrtFree: %p is in use by %s queued on stream %d", p,
                                    streams[s]->q[i].what, streams[s]->id);
    if (!rc) {
        b->alive = 0;
        used[b->dev] -= b->n;
        free(b->p);
    }
    pthread_mutex_unlock(&mu);
    fake_log("aclrtFree ptr=%p -> %d", p, rc);
    return rc;
}

typedef struct copy { void *dst; const void *src; size_t n; } copy;
static void run_copy(void *arg) {
    copy *c = arg;
    memcpy(c->dst, c->src, c->n);
    free(c);
}

static const char *KIND[4] = {"h2h", "h2d", "d2h", "d2d"};

static int check_copy(void *dst, size_t max, const void *src, size_t n, int kind) {
    if (!dst || !src || kind < 0 || kind > 3)
        return fake_error(E_RT_PARAM, "EE1001: aclrtMemcpy: null pointer or kind %d", kind);
    if (n > max)
        return fake_error(E_RT_PARAM, "EE1001: aclrtMemcpy: count %zu > destMax %zu", n, max);
    if ((kind == 1 || kind == 3) && !fake_in_block(dst, n))
        return fake_error(E_RT_PARAM, "EE1001: aclrtMemcpy: destination %p + %zu is not device memory", dst, n);
    if ((kind == 2 || kind == 3) && !fake_in_block(src, n))
        return fake_error(E_RT_PARAM, "EE1001: aclrtMemcpy: source %p + %zu is not device memory", src, n);
    return 0;
}

int aclrtMemcpy(void *dst, size_t max, const void *src, size_t n, int kind) {
    int rc = check_copy(dst, max, src, n, kind);
    if (!rc)
        for (int s = 0; s < 256; s++) /* synchronous: after all queued work */
            if (streams[s])
                drain(streams[s]);
    if (!rc)
        memcpy(dst, src, n);
    fake_log("aclrtMemcpy kind=%s size=%zu -> %d", kind >= 0 && kind < 4 ? KIND[kind] : "?", n, rc);
    return rc;
}

int aclrtMemcpyAsync(void *dst, size_t max, const void *src, size_t n, int kind, void *s) {
    int rc = check_copy(dst, max, src, n, kind);
    if (!rc && !fake_stream_ok(s))
        rc = fake_error(E_RT_PARAM, "EE1001: aclrtMemcpyAsync: invalid stream");
    if (!rc) {
        copy *c = malloc(sizeof *c);
        *c = (copy){dst, src, n};
        void *uses[2] = {dst, (void *)src};
        fake_enqueue(s, run_copy, c, KIND[kind], kind == 1 ? uses : kind == 2 ? uses + 1 : uses, kind == 3 ? 2 : 1);
    }
    fake_log("aclrtMemcpyAsync kind=%s size=%zu stream=%d -> %d", kind >= 0 && kind < 4 ? KIND[kind] : "?", n,
             fake_stream_ok(s) ? ((stream *)s)->id : -1, rc);
    return rc;
}

/* ---- events: recorded as stream work, completed when the stream runs it ------------------ */


typedef struct event { uint32_t magic; int id, alive, recorded, complete; stream *on; double ms; } event;
#define M_EVENT 0x7e250007u

static event *live_event(void *e) {
    event *ev = e;
    return ev && ev->magic == M_EVENT && ev->alive ? ev : NULL;
}

int aclrtCreateEvent(void **e) {
    if (!e)
        return fake_error(E_RT_PARAM, "EE1001: aclrtCreateEvent: event is nullptr");
    event *ev = calloc(1, sizeof *ev);
    ev->magic = M_EVENT, ev->id = fake_next_id(), ev->alive = 1;
    *e = ev;
    fake_log("aclrtCreateEvent event=%d -> 0", ev->id);
    return 0;
}

int aclrtDestroyEvent(void *e) {
    event *ev = live_event(e);
    int rc = ev ? 0 : fake_error(E_RT_PARAM, "EE1001: aclrtDestroyEvent: not a live event");
    if (ev)
        ev->alive = 0;
    fake_log("aclrtDestroyEvent event=%d -> %d", ev ? ev->id : 0, rc);
    return rc;
}

static void complete(void *arg) {
    event *ev = arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ev->ms = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
    ev->complete = 1;
}

int aclrtRecordEvent(void *e, void *s) {
    event *ev = live_event(e);
    int rc = !ev ? fake_error(E_RT_PARAM, "EE1001: aclrtRecordEvent: not a live event")
           : !fake_stream_ok(s) ? fake_error(E_RT_PARAM, "EE1001: aclrtRecordEvent: invalid stream") : 0;
    if (!rc) {
        ev->recorded = 1, ev->complete = 0, ev->on = s;
        fake_enqueue(s, complete, ev, "event", NULL, 0);
    }
    fake_log("aclrtRecordEvent event=%d stream=%d -> %d", ev ? ev->id : 0, fake_stream_id(s), rc);
    return rc;
}

int aclrtSynchronizeEvent(void *e) {
    event *ev = live_event(e);
    int rc = ev ? 0 : fake_error(E_RT_PARAM, "EE1001: aclrtSynchronizeEvent: not a live event");
    if (ev && ev->recorded && !ev->complete)
        drain(ev->on);
    fake_log("aclrtSynchronizeEvent event=%d -> %d", ev ? ev->id : 0, rc);
    return rc;
}

int aclrtQueryEventStatus(void *e, int *status) {
    event *ev = live_event(e);
    if (!ev || !status)
        return fake_error(E_RT_PARAM, "EE1001: aclrtQueryEventStatus: not a live event or a null status");
    *status = ev->complete || !ev->recorded; /* ACL_EVENT_RECORDED_STATUS_COMPLETE = 1 */
    return 0;
}

int aclrtEventElapsedTime(float *ms, void *a, void *b) {
    event *s = live_event(a), *t = live_event(b);
    int rc = !ms || !s || !t ? fake_error(E_RT_PARAM, "EE1001: aclrtEventElapsedTime: a null or dead argument")
           : !s->complete || !t->complete ? fake_error(107020, "EE1001: aclrtEventElapsedTime: an event has not completed")
           : 0;
    if (!rc)
        *ms = (float)(t->ms - s->ms);
    fake_log("aclrtEventElapsedTime start=%d end=%d -> %d", s ? s->id : 0, t ? t->id : 0, rc);
    return rc;
}

static void wait_for(void *arg) {
    event *ev = arg;
    if (!ev->complete)
        drain(ev->on);
}

int aclrtStreamWaitEvent(void *s, void *e) {
    event *ev = live_event(e);
    int rc = !ev ? fake_error(E_RT_PARAM, "EE1001: aclrtStreamWaitEvent: not a live event")
           : !fake_stream_ok(s) ? fake_error(E_RT_PARAM, "EE1001: aclrtStreamWaitEvent: invalid stream") : 0;
    if (!rc && ev->recorded && ev->on != s) /* the stream's next work waits for the event's stream */
        fake_enqueue(s, wait_for, ev, "wait", NULL, 0);
    fake_log("aclrtStreamWaitEvent stream=%d event=%d -> %d", fake_stream_id(s), ev ? ev->id : 0, rc);
    return rc;
}
