/* resume.c: the resume.state file (layout in resume.h). */
#include <string.h>

#include "core/core.h"
#include "train/resume.h"

static const char MAGIC[8] = {'C', 'N', 'N', 'L', 'A', 'B', 'R', '1'};
#define VERSION 1u
#define HEADER_BYTES (8 + 4 + 5 * 4 + 2 * 8 + 3 * 8 + 4 * 8)

cnn_status cnn_resume_save(const char *path, const cnn_resume *r, cnn_error *err)
{
    size_t floats = r->param_count + r->state_count + r->m_count + r->v_count;
    size_t bytes = HEADER_BYTES + (size_t)r->n_train * 4 + floats * 4 + 8;
    unsigned char *buf = malloc(bytes), *p = buf;
    if (!buf)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory to save (%zu bytes)", path,
                             bytes);
    const uint32_t version = VERSION;
    const int32_t ints[5] = {r->epoch, r->best_epoch, r->since_best, r->bad_epochs, r->n_train};
    const int64_t longs[2] = {r->global_step, r->opt_steps};
    const double doubles[3] = {r->best_score, r->plateau_lr, r->plateau_best};
    const uint64_t counts[4] = {r->param_count, r->state_count, r->m_count, r->v_count};
    memcpy(p, MAGIC, 8), p += 8;
    memcpy(p, &version, 4), p += 4;
    memcpy(p, ints, sizeof ints), p += sizeof ints;
    memcpy(p, longs, sizeof longs), p += sizeof longs;
    memcpy(p, doubles, sizeof doubles), p += sizeof doubles;
    memcpy(p, counts, sizeof counts), p += sizeof counts;
    memcpy(p, r->order, (size_t)r->n_train * 4), p += (size_t)r->n_train * 4;
    const float *blocks[4] = {r->params, r->state, r->m, r->v};
    for (int k = 0; k < 4; k++)
        if (counts[k])
            memcpy(p, blocks[k], counts[k] * 4), p += counts[k] * 4;
    CNN_ASSERT((size_t)(p - buf) + 8 == bytes);
    cnn_status st = cnn_file_write_summed(path, buf, bytes, err);
    free(buf);
    return st;
}

cnn_status cnn_resume_read(const char *path, cnn_resume *r, cnn_error *err)
{
    memset(r, 0, sizeof *r);
    unsigned char *buf;
    size_t size;
    cnn_status st = cnn_file_read_versioned(path, MAGIC, "resume", VERSION, HEADER_BYTES, &buf,
                                            &size, err);
    if (st)
        return st;
    const unsigned char *p = buf + 12;
    int32_t ints[5];
    int64_t longs[2];
    double doubles[3];
    uint64_t counts[4];
    memcpy(ints, p, sizeof ints), p += sizeof ints;
    memcpy(longs, p, sizeof longs), p += sizeof longs;
    memcpy(doubles, p, sizeof doubles), p += sizeof doubles;
    memcpy(counts, p, sizeof counts), p += sizeof counts;
    /* counts below 2^40 (a damaged header may hold anything), so the sum
     * below cannot overflow */
    uint64_t want = HEADER_BYTES + 8;
    int sane = ints[4] >= 0;
    for (int k = 0; k < 4; k++)
        sane = sane && counts[k] < (1ull << 40);
    if (sane)
        want += (uint64_t)ints[4] * 4 + (counts[0] + counts[1] + counts[2] + counts[3]) * 4;
    if (!sane || want != size) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: expected %llu bytes for its %d images, "
                           "%llu parameters and their state, found %zu (file truncated?); the "
                           "run cannot be resumed, train it again", path,
                           (unsigned long long)want, ints[4], (unsigned long long)counts[0], size);
        goto fail;
    }
    if (!cnn_file_sum_ok(buf, size)) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: checksum mismatch (file damaged); the run "
                           "cannot be resumed, train it again", path);
        goto fail;
    }
    r->epoch = ints[0], r->best_epoch = ints[1], r->since_best = ints[2];
    r->bad_epochs = ints[3], r->n_train = ints[4];
    r->global_step = (long)longs[0], r->opt_steps = (long)longs[1];
    r->best_score = doubles[0], r->plateau_lr = doubles[1], r->plateau_best = doubles[2];
    r->param_count = counts[0], r->state_count = counts[1];
    r->m_count = counts[2], r->v_count = counts[3];
    /* The arrays sit at 4-byte offsets from a malloc'd (suitably aligned) buffer. */
    r->order = (const int *)p, p += (size_t)r->n_train * 4;
    const float **blocks[4] = {&r->params, &r->state, &r->m, &r->v};
    for (int k = 0; k < 4; k++) {
        *blocks[k] = counts[k] ? (const float *)p : NULL;
        p += counts[k] * 4;
    }
    r->buf = buf;
    return CNN_STATUS_OK;
fail:
    free(buf);
    return st;
}

void cnn_resume_free(cnn_resume *r)
{
    free(r->buf);
    r->buf = NULL;
}
