/* events.c: events and stream waits of the ACL runtime for deepseek.ascend's Event and Stream
 * (deepseek_ascend/device.py); a NULL stream is the device's default stream. */
#include "api.h"
#include "ascend.h"

static aclrtStream stream_of(int32_t device, void *stream) { return stream ? stream : asc_default_stream(device); }

int32_t asc_event_create(int32_t device, void **event) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtCreateEvent(event), "aclrtCreateEvent");
}

int32_t asc_event_destroy(int32_t device, void *event) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtDestroyEvent(event), "aclrtDestroyEvent");
}

int32_t asc_event_record(int32_t device, void *event, void *stream) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtRecordEvent(event, stream_of(device, stream)), "aclrtRecordEvent");
}

int32_t asc_event_synchronize(int32_t device, void *event) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtSynchronizeEvent(event), "aclrtSynchronizeEvent");
}

int32_t asc_event_query(int32_t device, void *event, int32_t *done) {
    int status = ACL_EVENT_RECORDED_STATUS_NOT_READY;
    ds_status st = asc_use_device(device);
    if (!st)
        st = asc_acl_check(ASC.aclrtQueryEventStatus(event, &status), "aclrtQueryEventStatus");
    *done = status == ACL_EVENT_RECORDED_STATUS_COMPLETE;
    return st;
}

int32_t asc_event_elapsed(int32_t device, void *start, void *end, float *ms) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtEventElapsedTime(ms, start, end), "aclrtEventElapsedTime");
}

int32_t asc_stream_synchronize(int32_t device, void *stream) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtSynchronizeStream(stream_of(device, stream)), "aclrtSynchronizeStream");
}

int32_t asc_stream_wait_event(int32_t device, void *stream, void *event) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtStreamWaitEvent(stream_of(device, stream), event), "aclrtStreamWaitEvent");
}
