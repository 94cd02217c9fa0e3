/* dsg_memory.c (included by dsg_host.c): device memory, copies through pinned staging, device
 * copies, streams and events.
 *
 * Host copies go through two pinned staging buffers per device, double-buffered: the CPU
 * fills (or drains) one while the other's copy is in flight, and an event recorded after each
 * copy says when its buffer may be touched again. The NULL stream is the device's default
 * stream, which orders work on every stream created with default flags, so copies and
 * launches keep the order the core issues them in.
 */
#define DSG_DEFAULT_STAGING (4u << 20)

static uint64_t staging_bytes = DSG_DEFAULT_STAGING;

void dsg_set_staging_bytes(uint64_t nbytes) { staging_bytes = nbytes ? nbytes : DSG_DEFAULT_STAGING; }
uint64_t dsg_staging_bytes(void) { return staging_bytes; }

#define DEV_NAME(d) api->device_type, (d)->index

static ds_status t_alloc(int32_t device, uint64_t nbytes, void **ptr) {
    DSG_DEVICE(d, device);
    *ptr = NULL;
    if (nbytes == 0) return DS_OK; /* runtimes refuse empty allocations; NULL stands for one */
    dsg_mem p = 0;
    DSG_CALL(api->mem_alloc(&p, nbytes), NULL, "%s(%llu bytes) on %s:%d", api->names.mem_alloc,
             (unsigned long long)nbytes, DEV_NAME(d));
    *ptr = (void *)(uintptr_t)p;
    return DS_OK;
}

static ds_status t_free(int32_t device, void *ptr) {
    DSG_DEVICE(d, device);
    if (ptr) DSG_CALL(api->mem_free((dsg_mem)(uintptr_t)ptr), NULL, "%s on %s:%d", api->names.mem_free, DEV_NAME(d));
    return DS_OK;
}

/* The device's two staging buffers and their events, made on its first host copy. */
static ds_status staging_ready(dsg_device *d) {
    for (int b = 0; b < 2; b++) {
        if (!d->staging[b])
            DSG_CALL(api->host_alloc(&d->staging[b], staging_bytes), NULL, "%s(%llu bytes) for %s:%d's staging",
                     api->names.host_alloc, (unsigned long long)staging_bytes, DEV_NAME(d));
        if (!d->staged[b])
            DSG_CALL(api->event_create(&d->staged[b], 0), NULL, "%s on %s:%d", api->names.event_create, DEV_NAME(d));
    }
    return DS_OK;
}

/* Waits until buffer b's last copy is done, so the CPU may touch it: a sync point. */
static ds_status staging_wait(dsg_device *d, int b) {
    if (d->pending[b]) {
        DSG_CALL(api->event_synchronize(d->staged[b]), d, "%s (a copy through %s:%d's staging)",
                 api->names.event_synchronize, DEV_NAME(d));
        d->pending[b] = 0;
    }
    return DS_OK;
}

static uint64_t chunk_of(uint64_t nbytes, uint64_t off) {
    return nbytes - off < staging_bytes ? nbytes - off : staging_bytes;
}

/* Host to device: each chunk is copied into a staging buffer, then an async copy on the
 * stream. Returns once the host memory is read (the ABI's rule); the last chunks may still be
 * in flight, and the staging events keep their buffers from being reused too early. */
static ds_status t_memcpy_h2d(int32_t device, void *dst, uint64_t dst_offset, const void *src, uint64_t nbytes,
                              void *stream) {
    DSG_DEVICE(d, device);
    ds_status st;
    pthread_mutex_lock(&d->lock);
    if ((st = staging_ready(d)) != DS_OK) goto out;
    dsg_mem base = (dsg_mem)(uintptr_t)dst + dst_offset;
    for (uint64_t off = 0, i = 0; off < nbytes; off += staging_bytes, i++) {
        int b = (int)(i & 1);
        uint64_t n = chunk_of(nbytes, off);
        if ((st = staging_wait(d, b)) != DS_OK) goto out;
        memcpy(d->staging[b], (const char *)src + off, n);
        const char *what = api->names.copy_h2d;
        int r = api->copy_h2d(base + off, d->staging[b], n, stream);
        if (r == 0) what = api->names.event_record, r = api->event_record(d->staged[b], stream);
        if (r != 0) {
            st = dsg_fail_call(r, NULL, "%s(%llu bytes at offset %llu) on %s:%d", what, (unsigned long long)n,
                               (unsigned long long)(dst_offset + off), DEV_NAME(d));
            goto out;
        }
        d->pending[b] = 1;
    }
out:
    pthread_mutex_unlock(&d->lock);
    return st;
}

/* Device to host: chunk i+1's copy is in flight while the CPU drains chunk i. Returns with
 * every byte in `dst`: a sync point of the stream (kernel faults show here). */
static ds_status t_memcpy_d2h(int32_t device, void *dst, const void *src, uint64_t src_offset, uint64_t nbytes,
                              void *stream) {
    DSG_DEVICE(d, device);
    ds_status st;
    pthread_mutex_lock(&d->lock);
    if ((st = staging_ready(d)) != DS_OK) goto out;
    dsg_mem base = (dsg_mem)(uintptr_t)src + src_offset;
    int prev = -1;
    uint64_t prev_off = 0, prev_n = 0;
    for (uint64_t off = 0, i = 0;; off += staging_bytes, i++) {
        int b = (int)(i & 1);
        uint64_t n = 0;
        if (off < nbytes) {
            n = chunk_of(nbytes, off);
            if ((st = staging_wait(d, b)) != DS_OK) goto out;
            const char *what = api->names.copy_d2h;
            int r = api->copy_d2h(d->staging[b], base + off, n, stream);
            if (r == 0) what = api->names.event_record, r = api->event_record(d->staged[b], stream);
            if (r != 0) {
                st = dsg_fail_call(r, d, "%s(%llu bytes at offset %llu) on %s:%d", what, (unsigned long long)n,
                                   (unsigned long long)(src_offset + off), DEV_NAME(d));
                goto out;
            }
            d->pending[b] = 1;
        }
        if (prev >= 0) {
            if ((st = staging_wait(d, prev)) != DS_OK) goto out;
            memcpy((char *)dst + prev_off, d->staging[prev], prev_n);
        }
        if (off >= nbytes) break;
        prev = b, prev_off = off, prev_n = n;
    }
out:
    pthread_mutex_unlock(&d->lock);
    return st;
}

static ds_status t_memcpy_d2d(int32_t device, void *dst, uint64_t dst_offset, const void *src, uint64_t src_offset,
                              uint64_t nbytes, void *stream) {
    DSG_DEVICE(d, device);
    if (nbytes)
        DSG_CALL(api->copy_d2d((dsg_mem)(uintptr_t)dst + dst_offset, (dsg_mem)(uintptr_t)src + src_offset, nbytes,
                               stream),
                 NULL, "%s(%llu bytes) on %s:%d", api->names.copy_d2d, (unsigned long long)nbytes, DEV_NAME(d));
    return DS_OK;
}

static ds_status t_synchronize(int32_t device) {
    DSG_DEVICE(d, device);
    DSG_CALL(api->device_synchronize(), d, "%s(%s:%d)", api->names.device_synchronize, DEV_NAME(d));
    return DS_OK;
}

static ds_status t_stream_create(int32_t device, void **stream) {
    DSG_DEVICE(d, device);
    void *s = NULL;
    DSG_CALL(api->stream_create(&s), NULL, "%s on %s:%d", api->names.stream_create, DEV_NAME(d));
    *stream = s;
    return DS_OK;
}

static ds_status t_stream_destroy(int32_t device, void *stream) {
    DSG_DEVICE(d, device);
    if (!stream)
        return dsg_fail(DS_ERROR_INVALID_ARGUMENT, "stream_destroy: the default stream (NULL) is not destroyed");
    DSG_CALL(api->stream_destroy(stream), NULL, "%s on %s:%d", api->names.stream_destroy, DEV_NAME(d));
    return DS_OK;
}

int32_t dsg_release_staging(void) {
    ds_status st = DS_OK;
    if (!api) return DS_OK;
    for (int i = 0; i < n_devices; i++) {
        dsg_device *d = &devices[i];
        if (!d->ready) continue;
        pthread_mutex_lock(&d->lock);
        if (api->make_current(i, d->handle) == 0) {
            for (int b = 0; b < 2; b++) {
                if (d->pending[b]) api->event_synchronize(d->staged[b]);
                d->pending[b] = 0;
                if (d->staging[b] && api->host_free(d->staging[b]) != 0) st = DS_ERROR;
                if (d->staged[b] && api->event_destroy(d->staged[b]) != 0) st = DS_ERROR;
                d->staging[b] = d->staged[b] = NULL;
            }
        }
        pthread_mutex_unlock(&d->lock);
    }
    return st;
}

int32_t dsg_mem_get_info(int32_t device, uint64_t *free_bytes, uint64_t *total_bytes) {
    DSG_DEVICE(d, device);
    size_t f = 0, t = 0;
    DSG_CALL(api->mem_get_info(&f, &t), NULL, "%s(%s:%d)", api->names.mem_get_info, DEV_NAME(d));
    *free_bytes = f, *total_bytes = t;
    return DS_OK;
}

int32_t dsg_memset(int32_t device, void *ptr, uint64_t offset, uint8_t value, uint64_t nbytes, void *stream) {
    DSG_DEVICE(d, device);
    if (nbytes)
        DSG_CALL(api->memset8((dsg_mem)(uintptr_t)ptr + offset, value, nbytes, stream), NULL, "%s(%llu bytes) on %s:%d",
                 api->names.memset8, (unsigned long long)nbytes, DEV_NAME(d));
    return DS_OK;
}

int32_t dsg_stream_synchronize(int32_t device, void *stream) {
    DSG_DEVICE(d, device);
    DSG_CALL(api->stream_synchronize(stream), d, "%s on %s:%d", api->names.stream_synchronize, DEV_NAME(d));
    return DS_OK;
}

/* A query's answer: done (0), still running (not_ready), or a fault (a sync point's error). */
static ds_status polled(dsg_device *d, int r, const char *call, int32_t *done) {
    if (r != 0 && r != api->not_ready) return dsg_fail_call(r, d, "%s on %s:%d", call, DEV_NAME(d));
    *done = r == 0;
    return DS_OK;
}

int32_t dsg_stream_query(int32_t device, void *stream, int32_t *idle) {
    DSG_DEVICE(d, device);
    return polled(d, api->stream_query(stream), api->names.stream_query, idle);
}

int32_t dsg_stream_wait_event(int32_t device, void *stream, void *event) {
    DSG_DEVICE(d, device);
    DSG_CALL(api->stream_wait_event(stream, event), NULL, "%s on %s:%d", api->names.stream_wait_event, DEV_NAME(d));
    return DS_OK;
}

int32_t dsg_event_create(int32_t device, int32_t timing, void **event) {
    DSG_DEVICE(d, device);
    void *e = NULL;
    DSG_CALL(api->event_create(&e, timing), NULL, "%s on %s:%d", api->names.event_create, DEV_NAME(d));
    *event = e;
    return DS_OK;
}

int32_t dsg_event_record(int32_t device, void *event, void *stream) {
    DSG_DEVICE(d, device);
    DSG_CALL(api->event_record(event, stream), NULL, "%s on %s:%d", api->names.event_record, DEV_NAME(d));
    return DS_OK;
}

int32_t dsg_event_synchronize(int32_t device, void *event) {
    DSG_DEVICE(d, device);
    DSG_CALL(api->event_synchronize(event), d, "%s on %s:%d", api->names.event_synchronize, DEV_NAME(d));
    return DS_OK;
}

int32_t dsg_event_query(int32_t device, void *event, int32_t *done) {
    DSG_DEVICE(d, device);
    return polled(d, api->event_query(event), api->names.event_query, done);
}

int32_t dsg_event_elapsed(int32_t device, void *start, void *end, float *ms) {
    DSG_DEVICE(d, device);
    DSG_CALL(api->event_elapsed(ms, start, end), NULL, "%s on %s:%d", api->names.event_elapsed, DEV_NAME(d));
    return DS_OK;
}

int32_t dsg_event_destroy(int32_t device, void *event) {
    DSG_DEVICE(d, device);
    DSG_CALL(api->event_destroy(event), NULL, "%s on %s:%d", api->names.event_destroy, DEV_NAME(d));
    return DS_OK;
}
