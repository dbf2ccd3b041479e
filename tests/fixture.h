/* fixture.h: reads the PyTorch fixture files under tests/fixtures (written by
 * tools/fixtures/make_*_fixtures.py): one record per line, "name count v1 ...
 * v<count>", '#' lines are comments. Include once per test program, after
 * check.h. */
#ifndef CNN_TEST_FIXTURE_H
#define CNN_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture_record {
    char name[48];
    size_t count;
    float *v; /* (count) */
} fixture_record;

typedef struct fixture_file {
    const char *path;
    fixture_record *r;
    int n;
} fixture_file;

static void *fixture_xalloc(void *p, size_t bytes)
{
    p = realloc(p, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "fixture: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

/* Reads path; returns 0 and prints why (with how to regenerate it, made_by)
 * when the file is missing or a line is malformed. */
__attribute__((unused)) static int fixture_load(fixture_file *f, const char *path,
                                                const char *made_by)
{
    f->path = path;
    f->r = NULL;
    f->n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        printf("FAIL cannot open %s (run from the repository root; regenerate with "
               "/usr/bin/python3 %s)\n", path, made_by);
        return 0;
    }
    size_t cap = 1 << 16, len = 0, got;
    char *text = fixture_xalloc(NULL, cap);
    while ((got = fread(text + len, 1, cap - len - 1, fp)) > 0) {
        len += got;
        if (len + 1 == cap)
            text = fixture_xalloc(text, cap *= 2);
    }
    fclose(fp);
    text[len] = '\0';
    int line = 0, ok = 1;
    for (char *p = text; ok && *p;) {
        char *end = strchr(p, '\n');
        if (end)
            *end = '\0';
        line++;
        if (*p && *p != '#') {
            fixture_record rec = {.v = NULL};
            int used = 0;
            if (sscanf(p, "%47s %zu%n", rec.name, &rec.count, &used) != 2 ||
                rec.count > 1u << 20) {
                printf("FAIL %s:%d: expected \"name count values...\"\n", path, line);
                ok = 0;
                break;
            }
            rec.v = fixture_xalloc(NULL, rec.count * sizeof *rec.v);
            char *q = p + used;
            for (size_t i = 0; i < rec.count; i++) {
                char *after;
                rec.v[i] = strtof(q, &after);
                if (after == q) {
                    printf("FAIL %s:%d: %s: value %zu of %zu missing\n", path, line, rec.name,
                           i + 1, rec.count);
                    ok = 0;
                    break;
                }
                q = after;
            }
            f->r = fixture_xalloc(f->r, (size_t)(f->n + 1) * sizeof *f->r);
            f->r[f->n++] = rec;
        }
        p = end ? end + 1 : p + strlen(p);
    }
    free(text);
    return ok;
}

__attribute__((unused)) static void fixture_free(fixture_file *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->r[i].v);
    free(f->r);
    f->r = NULL;
    f->n = 0;
}

/* The first record called name, of any length; NULL (and nothing recorded)
 * when there is none. */
__attribute__((unused)) static const fixture_record *fixture_find(const fixture_file *f,
                                                                  const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->r[i].name, name) == 0)
            return &f->r[i];
    return NULL;
}

/* The values of record name, which must hold count of them; NULL, and a
 * recorded failure, when the record is missing or has another length. */
__attribute__((unused)) static const float *fixture_get(const fixture_file *f, const char *name,
                                                        size_t count)
{
    const fixture_record *r = fixture_find(f, name);
    if (!r) {
        check(0, "fixture %s: missing from %s", name, f->path);
        return NULL;
    }
    check(r->count == count, "fixture %s: %zu values, expected %zu", name, r->count, count);
    return r->count == count ? r->v : NULL;
}

#endif
