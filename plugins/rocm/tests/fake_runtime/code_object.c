/* code_object.c (included by fake_hip.c): the kernels of an AMD GPU code object and their
 * argument sizes, from its AMDGPU metadata note: a msgpack map whose "amdhsa.kernels" lists
 * each kernel's ".name" and ".args" (".size", ".value_kind"; the runtime's hidden arguments
 * are not the caller's and are left out). Enough of ELF64 and msgpack for what hipRTC writes.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_PARAMS 64
#define MAX_KERNELS 128

typedef struct kernel { char name[96]; int nparams; int sizes[MAX_PARAMS]; } kernel;
typedef struct module { int nkernels; kernel kernels[MAX_KERNELS]; } module;

typedef struct mp { const uint8_t *p, *end; int bad; } mp;

static uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static const uint8_t *take(mp *m, size_t n) {
    if (m->bad || (size_t)(m->end - m->p) < n) {
        m->bad = 1;
        return NULL;
    }
    const uint8_t *q = m->p;
    m->p += n;
    return q;
}

/* One value's head: 'm' map / 'a' array (*n entries follow), 's' string (*s, *n), 'u' unsigned
 * (*n), 'x' anything else (consumed). */
static int mp_next(mp *m, uint64_t *n, const uint8_t **s) {
    const uint8_t *h = take(m, 1), *q;
    if (!h) return 'x';
    uint8_t c = *h;
    int w = 0;
    if (c <= 0x7f) return *n = c, 'u';
    if (c >= 0xe0) return 'x';
    if ((c & 0xf0) == 0x80) return *n = c & 0x0f, 'm';
    if ((c & 0xf0) == 0x90) return *n = c & 0x0f, 'a';
    if ((c & 0xe0) == 0xa0) return *n = c & 0x1f, *s = take(m, *n), 's';
    switch (c) {
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        w = 1 << (c - 0xcc);
        return (q = take(m, w)) ? (*n = be(q, w), 'u') : 'x';
    case 0xd9: case 0xda: case 0xdb:
        w = 1 << (c - 0xd9);
        if (!(q = take(m, w))) return 'x';
        *n = be(q, w);
        return *s = take(m, *n), 's';
    case 0xdc: case 0xdd:
        w = c == 0xdc ? 2 : 4;
        return (q = take(m, w)) ? (*n = be(q, w), 'a') : 'x';
    case 0xde: case 0xdf:
        w = c == 0xde ? 2 : 4;
        return (q = take(m, w)) ? (*n = be(q, w), 'm') : 'x';
    case 0xc4: case 0xc5: case 0xc6: /* bin */
        w = 1 << (c - 0xc4);
        if ((q = take(m, w))) take(m, be(q, w));
        return 'x';
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: take(m, 1 << (c - 0xd0)); return 'x';
    case 0xca: take(m, 4); return 'x';
    case 0xcb: take(m, 8); return 'x';
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: take(m, 1 + (1 << (c - 0xd4))); return 'x';
    case 0xc7: case 0xc8: case 0xc9:
        w = 1 << (c - 0xc7);
        if ((q = take(m, w))) take(m, 1 + be(q, w));
        return 'x';
    default: return 'x'; /* nil, booleans */
    }
}

static void mp_skip(mp *m, int depth) {
    uint64_t n = 0;
    const uint8_t *s;
    int t = mp_next(m, &n, &s);
    if (depth > 32) m->bad = 1;
    for (uint64_t i = 0; !m->bad && (t == 'm' || t == 'a') && i < (t == 'm' ? 2 * n : n); i++) mp_skip(m, depth + 1);
}

static int key_is(mp *m, const char *want) {
    uint64_t n = 0;
    const uint8_t *s = NULL;
    int t = mp_next(m, &n, &s);
    return t == 's' && s && n == strlen(want) && !memcmp(s, want, n);
}

static void parse_arg(mp *m, kernel *k) {
    uint64_t n = 0, size = 0, len = 0;
    const uint8_t *s = NULL;
    int hidden = 0;
    if (mp_next(m, &n, &s) != 'm') return (void)(m->bad = 1);
    for (uint64_t i = 0; i < n && !m->bad; i++) {
        const uint8_t *before = m->p;
        if (key_is(m, ".size")) {
            if (mp_next(m, &size, &s) != 'u') m->bad = 1;
            continue;
        }
        m->p = before;
        if (key_is(m, ".value_kind")) {
            if (mp_next(m, &len, &s) == 's' && s) hidden = len >= 6 && !memcmp(s, "hidden", 6);
            continue;
        }
        m->p = before;
        mp_skip(m, 0); /* the key */
        mp_skip(m, 0); /* its value */
    }
    if (!hidden && k->nparams < MAX_PARAMS) k->sizes[k->nparams++] = (int)size;
}

static void parse_kernel(mp *m, module *mod) {
    uint64_t n = 0, na = 0;
    const uint8_t *s = NULL;
    kernel k = {{0}, 0, {0}};
    if (mp_next(m, &n, &s) != 'm') return (void)(m->bad = 1);
    for (uint64_t i = 0; i < n && !m->bad; i++) {
        const uint8_t *before = m->p;
        if (key_is(m, ".name")) {
            uint64_t len = 0;
            if (mp_next(m, &len, &s) == 's' && s) snprintf(k.name, sizeof k.name, "%.*s", (int)len, (const char *)s);
            continue;
        }
        m->p = before;
        if (key_is(m, ".args")) {
            if (mp_next(m, &na, &s) != 'a') return (void)(m->bad = 1);
            for (uint64_t j = 0; j < na && !m->bad; j++) parse_arg(m, &k);
            continue;
        }
        m->p = before;
        mp_skip(m, 0);
        mp_skip(m, 0);
    }
    if (k.name[0] && mod->nkernels < MAX_KERNELS) mod->kernels[mod->nkernels++] = k;
}

static int parse_metadata(const uint8_t *p, size_t n, module *mod) {
    mp m = {p, p + n, 0};
    uint64_t count = 0, nk = 0;
    const uint8_t *s;
    if (mp_next(&m, &count, &s) != 'm') return 0;
    for (uint64_t i = 0; i < count && !m.bad; i++) {
        const uint8_t *before = m.p;
        if (key_is(&m, "amdhsa.kernels")) {
            if (mp_next(&m, &nk, &s) != 'a') return 0;
            for (uint64_t j = 0; j < nk && !m.bad; j++) parse_kernel(&m, mod);
            continue;
        }
        m.p = before;
        mp_skip(&m, 0);
        mp_skip(&m, 0);
    }
    return !m.bad && mod->nkernels > 0;
}

/* The NT_AMDGPU_METADATA note of an ELF64 code object. */
static int read_code_object(const uint8_t *img, module *mod) {
    if (memcmp(img, "\x7f" "ELF", 4) || img[4] != 2) return 0;
    uint64_t shoff = 0;
    uint16_t shentsize = 0, shnum = 0;
    memcpy(&shoff, img + 0x28, 8);
    memcpy(&shentsize, img + 0x3a, 2);
    memcpy(&shnum, img + 0x3c, 2);
    for (int i = 0; i < shnum; i++) {
        const uint8_t *sh = img + shoff + (uint64_t)i * shentsize;
        uint32_t type;
        uint64_t off, size;
        memcpy(&type, sh + 4, 4);
        memcpy(&off, sh + 0x18, 8);
        memcpy(&size, sh + 0x20, 8);
        if (type != 7) continue; /* SHT_NOTE */
        for (uint64_t at = 0; at + 12 <= size;) {
            uint32_t namesz, descsz, ntype;
            memcpy(&namesz, img + off + at, 4);
            memcpy(&descsz, img + off + at + 4, 4);
            memcpy(&ntype, img + off + at + 8, 4);
            const char *name = (const char *)img + off + at + 12;
            uint64_t desc = at + 12 + ((namesz + 3) & ~3u);
            if (ntype == 32 && namesz == 7 && !memcmp(name, "AMDGPU", 7))
                return parse_metadata(img + off + desc, descsz, mod);
            at = desc + ((descsz + 3) & ~3u);
        }
    }
    return 0;
}
