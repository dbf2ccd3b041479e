/* modelfile_header.c: a model file's header settings (name, about, input,
 * classes, defaults), before the first layer, and its variable assignments
 * (NAME = EXPR, overridable from outside at the top level).
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "modelfile.h"

/* ---- header settings, assignments ---- */

static const char *const settings[] = {"name", "about", "input", "classes", "defaults"};

static cnn_status defaults(mf_run *r, const mf_line *l)
{
    mf_args_split a;
    cnn_status st = mf_split_args(r->f, l, l->first + 1, &a);
    if (st)
        return st;
    if (a.npos)
        return mf_fail(r->f, l, a.pos[0]->col, "defaults: expected KEY=VALUE settings (norm, act, "
                       "dropout, kernel, groups, init), found '%s'", a.pos[0]->s);
    for (int i = 0; i < a.nkeys && !st; i++) {
        const char *v = a.values[i];
        int col = a.value_cols[i];
        size_t n = (size_t)(v - 1 - a.key_names[i]);
        char key[16];
        snprintf(key, sizeof key, "%.*s", (int)n, a.key_names[i]);
        if (!strcmp(key, "norm")) {
            static const struct { const char *name; cnn_layer_kind kind; } norms[] = {
                {"none", CNN_LAYER_IDENTITY}, {"batch", CNN_LAYER_BATCHNORM},
                {"layer", CNN_LAYER_LAYERNORM}, {"instance", CNN_LAYER_INSTANCENORM},
                {"group", CNN_LAYER_GROUPNORM}};
            int found = 0;
            for (size_t j = 0; j < sizeof norms / sizeof norms[0]; j++)
                if (!strcmp(v, norms[j].name)) {
                    r->defaults.norm = norms[j].kind;
                    found = 1;
                }
            if (!found)
                st = mf_fail(r->f, l, col, "defaults norm: expected none, batch, layer, instance "
                             "or group, found '%s'", v);
        } else if (!strcmp(key, "act")) {
            if (!cnn_act_parse(v, &r->defaults.act))
                st = mf_fail(r->f, l, col, "defaults act: expected relu, leaky_relu, sigmoid, "
                             "tanh, gelu or elu, found '%s'", v);
        } else if (!strcmp(key, "dropout")) {
            st = mf_prob(r, l, col, v, "defaults dropout", &r->defaults.dropout);
        } else if (!strcmp(key, "kernel")) {
            st = mf_run_eval_int(r, r->global, l, col, v, "defaults kernel", 1, 15, &r->defaults.kernel);
        } else if (!strcmp(key, "groups")) {
            st = mf_run_eval_int(r, r->global, l, col, v, "defaults groups", 1, 65536, &r->defaults.groups);
        } else if (!strcmp(key, "init")) {
            if (!cnn_init_kind_parse(v, &r->init))
                st = mf_fail(r->f, l, col, "defaults init: expected pytorch, kaiming or xavier, "
                             "found '%s'", v);
        } else {
            st = mf_fail(r->f, l, a.keys[i]->col, "defaults: unknown key '%s'; expected one of: "
                         "norm, act, dropout, kernel, groups, init", key);
        }
    }
    return st;
}

cnn_status mf_header(mf_run *r, const mf_line *l)
{
    const mf_file *f = r->f;
    const mf_tok *w = &l->tok[l->first];
    int which = 0;
    while (strcmp(settings[which], w->s))
        which++;
    if (r->set_line[which])
        return mf_fail(f, l, w->col, "duplicate setting '%s': expected it once, found it again "
                       "(first at line %d)", w->s, r->set_line[which]);
    if (r->first_layer_line)
        return mf_fail(f, l, w->col, "expected header settings before the first layer (line %d), "
                       "found '%s' after it", r->first_layer_line, w->s);
    r->set_line[which] = l->no;
    int nargs = l->ntok - l->first - 1;
    const mf_tok *args = &l->tok[l->first + 1];
    int want = which == 2 ? 3 : which == 4 ? -1 : which == 1 ? -1 : 1;
    if (nargs == 0 || (want > 0 && nargs != want))
        return mf_fail(f, l, nargs > want && want > 0 ? args[want].col
                                                      : w->col + (int)strlen(w->s) + 1,
                       "%s: expected %s, found %s", w->s,
                       which == 0 ? "the model's name" : which == 1 ? "a line of text"
                       : which == 2 ? "H W C (three numbers)" : which == 3 ? "the number of classes"
                       : "KEY=VALUE settings", nargs == 0 ? "nothing" : "more");
    switch (which) {
    case 0:
        for (const char *p = args[0].s; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '_' || *p == '-' || *p == '.'))
                return mf_fail(f, l, args[0].col + (int)(p - args[0].s), "name: expected letters, "
                               "digits, '_', '-' or '.', found '%c' in '%s'", *p, args[0].s);
        r->name = args[0].s;
        return CNN_STATUS_OK;
    case 1: {
        const char *t = l->text + args[0].col - 1;
        size_t n = strlen(t);
        if (n >= 2 && t[0] == '"' && t[n - 1] == '"')
            t++, n -= 2;
        r->about = mf_strndup(&r->f->arena, t, n);
        return r->about ? CNN_STATUS_OK : mf_no_memory(f);
    }
    case 2: {
        cnn_status st;
        if ((st = mf_run_eval_int(r, r->global, l, args[0].col, args[0].s, "input H", 1, 65536, &r->in_h)) ||
            (st = mf_run_eval_int(r, r->global, l, args[1].col, args[1].s, "input W", 1, 65536, &r->in_w)) ||
            (st = mf_run_eval_int(r, r->global, l, args[2].col, args[2].s, "input C", 1, 65536, &r->in_c)))
            return st;
        return CNN_STATUS_OK;
    }
    case 3: {
        int classes = 0;
        cnn_status st = mf_run_eval_int(r, r->global, l, args[0].col, args[0].s, "classes", 1, 1 << 20,
                                 &classes);
        if (!st)
            mf_var_find(r->global, "classes")->value = classes;
        return st;
    }
    default:
        return defaults(r, l);
    }
}

cnn_status mf_assign(mf_run *r, mf_scope *s, const mf_line *l)
{
    const mf_tok *w = &l->tok[l->first];
    const char *start = l->text + w->col - 1, *eq = strchr(start, '=');
    size_t n = (size_t)(eq - start);
    while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    if (!mf_is_ident(start, n))
        return mf_fail(r->f, l, w->col, "expected a variable NAME = VALUE, found '%.*s'", (int)n,
                       start);
    const char *name = mf_strndup(&r->f->arena, start, n);
    if (!name)
        return mf_no_memory(r->f);
    const char *e = eq + 1;
    while (*e == ' ' || *e == '\t')
        e++;
    int col = (int)(e - l->text) + 1;
    if (!*e)
        return mf_fail(r->f, l, col, "expected a value after '%s =', found nothing", name);
    long v;
    cnn_status st = mf_run_eval(r, s, l, col, e, &v);
    if (st)
        return st;
    if (s == r->global)
        for (int i = 0; i < r->novr; i++)
            if (!strcmp(r->ovr[i].name, name)) {
                v = r->ovr[i].value;
                r->ovr[i].used = 1;
            }
    return mf_var_set(r, s, l, w->col, name, v);
}
