/* spec_file.c: study.txt, what makes a study what it is (its base, factors,
 * grid, repeats and seed), written and read back, and whether two specs are
 * the same study. Pure: no files are touched here (runner.c does). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/study.h"
#include "core/core.h"

/* ---- study.txt ---- */

void cnn_study_spec_format(const cnn_study_spec *spec, char *buf, size_t size)
{
    cnn_fixbuf b = {buf, size, 0};
    cnn_fixbuf_printf(&b, "# cnnlab study. `cnnlab study --out` with this folder continues it; only\n"
                          "# base, vary, grid, repeats and seed make the study what it is.\n");
    for (int i = 0; i < spec->base_count; i++) {
        int has_value = i + 1 < spec->base_count && strncmp(spec->base[i + 1], "--", 2) != 0;
        if (has_value) {
            cnn_fixbuf_printf(&b, "base = %s %s\n", spec->base[i], spec->base[i + 1]);
            i++;
        } else {
            cnn_fixbuf_printf(&b, "base = %s\n", spec->base[i]);
        }
    }
    for (int f = 0; f < spec->factor_count; f++) {
        char list[CNN_STUDY_MAX_VALUES * 66];
        cnn_study_factor_format(&spec->factors[f], list, sizeof list);
        cnn_fixbuf_printf(&b, "vary = %s\n", list);
    }
    cnn_fixbuf_printf(&b, "grid = %d\nrepeats = %d\nseed = %llu\n", spec->grid, spec->repeats,
        (unsigned long long)spec->seed);
    if (*spec->preset)
        cnn_fixbuf_printf(&b, "preset = %s\n", spec->preset);
    for (int f = 0; f < spec->factor_count; f++) {
        if (spec->factors[f].is_bool)
            cnn_fixbuf_printf(&b, "bool_flag = %s\n", spec->factors[f].flag);
        if (spec->factors[f].name[0])
            cnn_fixbuf_printf(&b, "factor_name = %s=%s\n", spec->factors[f].flag, spec->factors[f].name);
        for (int v = 0; v < spec->factors[f].count; v++)
            if (spec->factors[f].is_control[v])
                cnn_fixbuf_printf(&b, "control_value = %s=%s\n", spec->factors[f].flag, spec->factors[f].values[v]);
    }
}

static cnn_study_factor *find_factor(cnn_study_spec *spec, const char *flag, size_t len)
{
    for (int f = 0; f < spec->factor_count; f++)
        if (strlen(spec->factors[f].flag) == len && strncmp(spec->factors[f].flag, flag, len) == 0)
            return &spec->factors[f];
    return NULL;
}

/* A whole decimal integer in [lo, hi] (study.txt's grid, repeats, seed). */
static int spec_integer(const char *s, unsigned long long lo, unsigned long long hi,
                        unsigned long long *out)
{
    if (*s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno || x < lo || x > hi)
        return 0;
    *out = x;
    return 1;
}

/* A value copied whole into a field of size bytes, or refused. */
#define SPEC_COPY(dst, size, src)                                                         \
    do {                                                                                  \
        if (strlen(src) >= (size))                                                        \
            return cnn_error_set(err, CNN_STATUS_FORMAT, "study.txt:%d: %s: expected at " \
                                 "most %zu bytes, found %zu", line_no, key,               \
                                 (size_t)(size) - 1, strlen(src));                        \
        memcpy((dst), (src), strlen(src) + 1);                                            \
    } while (0)

cnn_status cnn_study_spec_parse(const char *text, cnn_study_spec *spec, cnn_error *err)
{
    memset(spec, 0, sizeof *spec);
    spec->repeats = 1;
    spec->seed = 1;
    int line_no = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        line_no++;
        char l[2048];
        if (len >= sizeof l)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "study.txt:%d: expected a line of at "
                                 "most %zu bytes, found %zu", line_no, sizeof l - 1, len);
        memcpy(l, line, len);
        l[len] = 0;
        line = end ? end + 1 : line + len;
        if (!*l || *l == '#')
            continue;
        char *eq = strstr(l, " = ");
        if (!eq)
            return cnn_error_set(err, CNN_STATUS_FORMAT,
                                 "study.txt:%d: expected 'key = value', found '%s'", line_no, l);
        *eq = 0;
        const char *key = l, *val = eq + 3;
        if (strcmp(key, "base") == 0) {
            const char *sp = strchr(val, ' ');
            if (spec->base_count + 2 > CNN_STUDY_MAX_ARGS)
                return cnn_error_set(err, CNN_STATUS_FORMAT, "study.txt:%d: too many base flags",
                                     line_no);
            size_t flag_len = sp ? (size_t)(sp - val) : strlen(val);
            if (flag_len >= CNN_STUDY_ARG_LEN || (sp && strlen(sp + 1) >= CNN_STUDY_ARG_LEN))
                return cnn_error_set(err, CNN_STATUS_FORMAT, "study.txt:%d: base: expected a "
                                     "flag and a value of at most %d bytes each", line_no,
                                     CNN_STUDY_ARG_LEN - 1);
            memcpy(spec->base[spec->base_count], val, flag_len);
            spec->base[spec->base_count++][flag_len] = 0;
            if (sp)
                SPEC_COPY(spec->base[spec->base_count++], CNN_STUDY_ARG_LEN, sp + 1);
        } else if (strcmp(key, "vary") == 0) {
            if (spec->factor_count >= CNN_STUDY_MAX_FACTORS)
                return cnn_error_set(err, CNN_STATUS_FORMAT, "study.txt:%d: too many factors",
                                     line_no);
            cnn_status st = cnn_study_factor_parse(val, &spec->factors[spec->factor_count], err);
            if (st)
                return st;
            spec->factor_count++;
        } else if (strcmp(key, "grid") == 0 || strcmp(key, "repeats") == 0 ||
                   strcmp(key, "seed") == 0) {
            int which = key[0] == 'g' ? 0 : key[0] == 'r' ? 1 : 2;
            static const unsigned long long lo[3] = {0, 1, 0},
                                            hi[3] = {1, CNN_STUDY_MAX_RUNS, 9200000000000000000ULL};
            unsigned long long x;
            if (!spec_integer(val, lo[which], hi[which], &x))
                return cnn_error_set(err, CNN_STATUS_FORMAT, "study.txt:%d: %s: expected an "
                                     "integer in [%llu, %llu], found '%.64s'", line_no, key,
                                     lo[which], hi[which], val);
            if (which == 0)
                spec->grid = (int)x;
            else if (which == 1)
                spec->repeats = (int)x;
            else
                spec->seed = x;
        } else if (strcmp(key, "preset") == 0) {
            SPEC_COPY(spec->preset, sizeof spec->preset, val);
        } else if (strcmp(key, "bool_flag") == 0) {
            cnn_study_factor *f = find_factor(spec, val, strlen(val));
            if (f)
                f->is_bool = 1;
        } else if (strcmp(key, "factor_name") == 0) {
            const char *e = strchr(val, '=');
            cnn_study_factor *f = e ? find_factor(spec, val, (size_t)(e - val)) : NULL;
            if (f)
                SPEC_COPY(f->name, sizeof f->name, e + 1);
        } else if (strcmp(key, "control_value") == 0) {
            const char *e = strchr(val, '=');
            cnn_study_factor *f = e ? find_factor(spec, val, (size_t)(e - val)) : NULL;
            for (int v = 0; f && v < f->count; v++)
                if (strcmp(f->values[v], e + 1) == 0)
                    f->is_control[v] = 1;
        }
        /* Unknown keys are information from newer versions: ignored. */
    }
    if (spec->repeats < 1)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "study.txt: repeats: expected >= 1, found %d",
                             spec->repeats);
    return CNN_STATUS_OK;
}

/* "base [--epochs 5 --model lenet5], vary [dropout=0,0.3], repeats 1, seed 1" */
static void describe(const cnn_study_spec *s, char *buf, size_t size)
{
    cnn_fixbuf b = {buf, size, 0};
    cnn_fixbuf_printf(&b, "base [");
    for (int i = 0; i < s->base_count; i++)
        cnn_fixbuf_printf(&b, "%s%s", i ? " " : "", s->base[i]);
    cnn_fixbuf_printf(&b, "], vary [");
    for (int f = 0; f < s->factor_count; f++) {
        char list[CNN_STUDY_MAX_VALUES * 66];
        cnn_study_factor_format(&s->factors[f], list, sizeof list);
        cnn_fixbuf_printf(&b, "%s%s", f ? " " : "", list);
    }
    cnn_fixbuf_printf(&b, "]%s, repeats %d, seed %llu", s->grid ? ", grid" : "", s->repeats,
        (unsigned long long)s->seed);
}

int cnn_study_spec_same(const cnn_study_spec *a, const cnn_study_spec *b, char *text, size_t size)
{
    int same = a->base_count == b->base_count && a->factor_count == b->factor_count &&
               a->grid == b->grid && a->repeats == b->repeats && a->seed == b->seed;
    for (int i = 0; same && i < a->base_count; i++)
        same = strcmp(a->base[i], b->base[i]) == 0;
    for (int f = 0; same && f < a->factor_count; f++) {
        const cnn_study_factor *x = &a->factors[f], *y = &b->factors[f];
        same = strcmp(x->flag, y->flag) == 0 && x->count == y->count;
        for (int v = 0; same && v < x->count; v++)
            same = strcmp(x->values[v], y->values[v]) == 0;
    }
    if (!same && text && size) {
        char da[4096], db[4096];
        describe(a, da, sizeof da);
        describe(b, db, sizeof db);
        snprintf(text, size, "%s; versus %s", da, db);
    }
    return same;
}
