/* settings.c: configurations as text: a train configuration as the model
 * and settings it resolves to (what makes two runs train the same), and the
 * word-by-word diffs of settings and config.txt files. Pure. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/study.h"
#include "core/core.h"

/* ---- configurations as text ---- */

cnn_status cnn_study_settings_text(const cnn_train_config *c, char *buf, size_t size,
                                   cnn_error *err)
{
    cnn_fixbuf b = {buf, size, 0};
    const cnn_model_desc *desc;
    cnn_model *m;
    cnn_status st = cnn_model_load(c->model, c->model_vars, &desc, err);
    if (st || (st = cnn_model_create(desc, &c->model_options, &m, err)))
        return st;
    /* The model as built: the layers show what variables and knobs made of it. */
    cnn_fixbuf_printf(&b, "model %s init %s params %zu\n", c->model, cnn_init_kind_name(cnn_model_init_kind(m)),
        m->param_count);
    for (int i = 0; i < m->count; i++) {
        const cnn_layer_desc *d = &m->layers[i].desc;
        cnn_fixbuf_printf(&b, "layer %d kind %d out %d k %d stride %d pad %d bias %d act %d p %.9g groups %d from",
            i, (int)d->kind, d->out, d->k, d->stride, d->pad, d->bias, (int)d->act, (double)d->p,
            d->groups);
        for (int j = 0; j < d->from_count; j++)
            cnn_fixbuf_printf(&b, " %d", d->from[j]);
        cnn_fixbuf_printf(&b, "\n");
    }
    cnn_model_destroy(m);
    const cnn_optim_config *o = &c->optim;
    const cnn_sched_config *s = &c->sched;
    const cnn_augment *a = &c->augment;
    cnn_fixbuf_printf(&b, "epochs %d batch %d\n", c->epochs, c->batch_size);
    cnn_fixbuf_printf(&b, "optimizer %s lr %.9g momentum %.9g nesterov %d wd %.9g betas %.9g %.9g eps %.9g "
                          "alpha %.9g\n", cnn_opt_kind_name(o->kind), (double)o->lr, (double)o->momentum,
        o->nesterov, (double)o->weight_decay, (double)o->beta1, (double)o->beta2, (double)o->eps,
        (double)o->alpha);
    cnn_fixbuf_printf(&b, "schedule %s step %d gamma %.9g milestones", cnn_sched_kind_name(s->kind), s->step_size,
        (double)s->gamma);
    for (int i = 0; i < s->milestone_count; i++)
        cnn_fixbuf_printf(&b, " %d", s->milestones[i]);
    cnn_fixbuf_printf(&b, " min_lr %.9g patience %d factor %.9g warmup %d\n", (double)s->min_lr, s->patience,
        (double)s->factor, s->warmup_epochs);
    cnn_fixbuf_printf(&b, "l2 %.9g clip %.9g %.9g smoothing %.9g early_stop %d\n", (double)c->l2,
        (double)c->clip_grad_norm, (double)c->clip_grad_value, (double)c->label_smoothing,
        c->early_stop);
    cnn_fixbuf_printf(&b, "augment crop %d pad %d flip %d cutout %d size %d noise %.9g\n", a->crop, a->crop_padding,
        a->flip, a->cutout, a->cutout_size, (double)a->input_noise);
    cnn_fixbuf_printf(&b, "val_fraction %.9g subset %d backend %d precision %d conv %d\n", c->val_fraction,
        c->subset, (int)c->exec.backend, (int)c->exec.precision, (int)c->exec.conv);
    if (c->exec.fp32_activations) /* only when asked: settings written before it stay equal */
        cnn_fixbuf_printf(&b, "activations fp32\n");
    return CNN_STATUS_OK;
}

/* The next space-separated word of *p (advancing it), or 0 at the end. */
static size_t word(const char **p, const char **start)
{
    while (**p == ' ' || **p == '\n')
        (*p)++;
    *start = *p;
    while (**p && **p != ' ' && **p != '\n')
        (*p)++;
    return (size_t)(*p - *start);
}

void cnn_study_settings_diff(const char *was, const char *now, char *buf, size_t size)
{
    cnn_fixbuf out = {buf, size, 0};
    int items = 0;
    buf[0] = 0;
    const char *a = was, *b = now, *prev = "", *wa, *wb;
    size_t prev_len = 0, la, lb;
    while ((la = word(&a, &wa)) | (lb = word(&b, &wb))) {
        if (la != lb || strncmp(wa, wb, la) != 0) {
            if (items++ == 4) {
                cnn_fixbuf_printf(&out, "; ...");
                return;
            }
            cnn_fixbuf_printf(&out, "%s%.*s %.*s -> %.*s", out.used ? "; " : "", (int)prev_len, prev, (int)la, la ? wa : "",
                (int)lb, lb ? wb : "");
        }
        prev = wb;
        prev_len = lb;
    }
}

/* config.txt keys that describe the machine, the data's place or the seed. */
static int ignored_key(const char *key, size_t len)
{
    static const char *keys[] = {"seed", "threads", "data", "norm_mean", "norm_std",
                                 "train_images", "val_images", NULL};
    for (int i = 0; keys[i]; i++)
        if (strlen(keys[i]) == len && strncmp(keys[i], key, len) == 0)
            return 1;
    return 0;
}

/* Finds "key = value" in config text; *value and *vlen receive the value with
 * trailing spaces trimmed. */
static int config_get(const char *text, const char *key, size_t klen, const char **value,
                      size_t *vlen)
{
    for (const char *l = text; *l;) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        if (*l != '#' && len >= klen + 3 && strncmp(l, key, klen) == 0 &&
            strncmp(l + klen, " = ", 3) == 0) {
            *value = l + klen + 3;
            *vlen = len - klen - 3;
            while (*vlen && (*value)[*vlen - 1] == ' ')
                (*vlen)--;
            return 1;
        }
        l = end ? end + 1 : l + len;
    }
    return 0;
}

static void diff_add(cnn_fixbuf *b, const char *key, size_t klen, const char *value,
                     size_t vlen)
{
    cnn_fixbuf_printf(b, "%s%.*s=%.*s", b->used ? "; " : "", (int)klen, key, (int)vlen, value);
}

void cnn_study_config_diff(const char *control, const char *run, char *out, size_t size)
{
    cnn_fixbuf b = {out, size, 0};
    out[0] = 0;
    /* Keys of run that control lacks or sets otherwise. */
    for (const char *l = run; *l;) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        const char *eq = *l == '#' ? NULL : strstr(l, " = ");
        if (eq && eq < l + len && !ignored_key(l, (size_t)(eq - l))) {
            size_t klen = (size_t)(eq - l);
            const char *v, *cv;
            size_t vlen, cvlen;
            config_get(run, l, klen, &v, &vlen);
            if (!config_get(control, l, klen, &cv, &cvlen) || cvlen != vlen ||
                strncmp(cv, v, vlen) != 0)
                diff_add(&b, l, klen, v, vlen);
        }
        l = end ? end + 1 : l + len;
    }
    /* Keys only control has. */
    for (const char *l = control; *l;) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        const char *eq = *l == '#' ? NULL : strstr(l, " = ");
        if (eq && eq < l + len && !ignored_key(l, (size_t)(eq - l))) {
            const char *v;
            size_t vlen;
            if (!config_get(run, l, (size_t)(eq - l), &v, &vlen))
                diff_add(&b, l, (size_t)(eq - l), "(none)", 6);
        }
        l = end ? end + 1 : l + len;
    }
}
