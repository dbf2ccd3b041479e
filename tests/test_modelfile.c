/* test_modelfile.c: model files (docs/model-files.md) and the built-in models
 * written in them.
 *  - every built-in model's parameter count under the default options, against
 *    the PyTorch definitions of issue 4 (and VGG's --head 4096 variant);
 *  - lenet5, lenet5-classic and vgg16_bn resolve to exactly the layers of the
 *    C tables the files replaced, under several knob settings;
 *  - tests/models/graph.cnn (pre-activation residual blocks with a
 *    parameter-free shortcut, a concatenating dense block): fast plan against
 *    reference plan (loss, logits, every gradient), then a short training on
 *    synthetic data whose loss must fall;
 *  - malformed files: each error names FILE:LINE:COL and says what was
 *    expected and what was found; a shape mismatch names both layers;
 *  - comments, CRLF line ends and a missing final newline are accepted;
 *  - expressions, variables set from outside, labels and origins.
 * Run from the repository root (tests/run_all.sh does). */
#include <string.h>

#include "check.h"
#include "cnnlab/cnnlab.h"
#include "core/core.h"
#include "plan_compare.h"

/* ---- built-in parameter counts ---- */

static void count_case(const char *name, const char *vars, size_t expect)
{
    cnn_error err;
    const cnn_model_desc *d;
    cnn_model *m;
    if (cnn_model_load(name, vars, &d, &err) || cnn_model_create(d, NULL, &m, &err)) {
        check(0, "%s %s: %s", name, vars ? vars : "", err.msg);
        return;
    }
    printf("  %-15s %-10s %10zu parameters (expected %zu)\n", name, vars ? vars : "",
           m->param_count, expect);
    check(m->param_count == expect, "%s %s has %zu parameters, expected %zu", name,
          vars ? vars : "", m->param_count, expect);
    cnn_model_destroy(m);
}

static void builtin_cases(void)
{
    static const struct {
        const char *name;
        size_t params;
    } table[] = {
        {"lenet5", 185806},     {"lenet5-classic", 62006}, {"vgg11", 9225610},
        {"vgg16", 14719818},    {"vgg19", 20029514},       {"vgg11_bn", 9228362},
        {"vgg13_bn", 9413066},  {"vgg16_bn", 14724042},    {"vgg19_bn", 20035018},
        {"resnet18", 11173962}, {"resnet34", 21282122},    {"resnet50", 23520842},
        {"resnet20", 269722},   {"resnet32", 464154},      {"resnet44", 658586},
        {"resnet56", 853018},   {"resnet110", 1727962},    {"nin", 966986},
        {"googlenet", 6166250}, {"airbench94", 1972792}, {"mobilenetv2", 2236682},
    };
    int n = (int)(sizeof table / sizeof table[0]), listed = 0;
    printf("built-in models, parameters against the PyTorch definitions:\n");
    for (int i = 0; i < n; i++)
        count_case(table[i].name, NULL, table[i].params);
    count_case("vgg16_bn", "head=4096", 33642442);
    count_case("lenet5", "fc=2", 173742); /* the depth study's shallower LeNet-5 */
    for (const cnn_model_desc *const *d = cnn_model_builtins(); *d; d++) {
        listed++;
        const cnn_model_file *f = cnn_model_file_of(*d);
        char path[128];
        snprintf(path, sizeof path, "models/%s.cnn", (*d)->name);
        check(f && !strcmp(f->path, path) && strlen(f->text) > 100 && strlen((*d)->about) > 10,
              "built-in %s comes from %s, with its text and an about line", (*d)->name, path);
        const cnn_model_desc *loaded;
        cnn_error err;
        check(cnn_model_load((*d)->name, NULL, &loaded, &err) == CNN_STATUS_OK && loaded == *d &&
                  cnn_model_find((*d)->name) == *d,
              "cnn_model_load and cnn_model_find give the built-in %s itself", (*d)->name);
    }
    check(listed == n, "%d built-in models listed, expected %d", listed, n);
    const cnn_model_desc *a, *b;
    cnn_error err;
    check(!cnn_model_load("vgg11", "head=64", &a, &err) && !cnn_model_load("vgg11", "head=64", &b, &err) &&
              a == b && a != cnn_model_find("vgg11"),
          "a built-in with variables set is a new description, cached");
    cnn_status st = cnn_model_load("resnet9000", NULL, &a, &err);
    printf("  resnet9000: %s\n", err.msg);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "resnet110") &&
              strstr(err.msg, "model file"), "an unknown name lists the built-ins");
}

/* ---- the files reproduce the C tables they replaced ---- */

#define CONV(oc, k_, s, p_)                                                                  \
    {.kind = CNN_LAYER_CONV, .out = (oc), .k = (k_), .stride = (s), .pad = (p_),            \
     .bias = CNN_BIAS_AUTO, .slots = CNN_SLOT_KERNEL}
#define LINEAR(o, b)                                                                         \
    {.kind = CNN_LAYER_LINEAR, .out = (o), .bias = (b), .slots = CNN_SLOT_DROPCONNECT}
#define ACT(a) {.kind = CNN_LAYER_ACT, .act = (a), .slots = CNN_SLOT_ACT}
#define AVGPOOL {.kind = CNN_LAYER_AVGPOOL, .k = 2, .stride = 2}
#define MAXPOOL {.kind = CNN_LAYER_MAXPOOL, .k = 2, .stride = 2}
#define NORM(kind_) {.kind = (kind_), .slots = CNN_SLOT_NORM}
#define DROPOUT {.kind = CNN_LAYER_IDENTITY, .slots = CNN_SLOT_DROPOUT}
#define FLATTEN {.kind = CNN_LAYER_FLATTEN}
#define LENET_CONV(oc, k, act) CONV(oc, k, 1, 0), NORM(CNN_LAYER_IDENTITY), ACT(act)
#define LENET_FC(o, act) LINEAR(o, CNN_BIAS_AUTO), NORM(CNN_LAYER_IDENTITY), ACT(act), DROPOUT
#define VGG_BN(oc) CONV(oc, 3, 1, 1), NORM(CNN_LAYER_BATCHNORM), ACT(CNN_ACT_RELU)

static const cnn_layer_desc old_lenet5[] = {
    LENET_CONV(16, 5, CNN_ACT_RELU), AVGPOOL, LENET_CONV(36, 3, CNN_ACT_RELU), AVGPOOL, FLATTEN,
    LENET_FC(128, CNN_ACT_RELU), LENET_FC(96, CNN_ACT_RELU), LINEAR(10, CNN_BIAS_YES),
};
static const cnn_layer_desc old_lenet5_classic[] = {
    LENET_CONV(6, 5, CNN_ACT_SIGMOID), AVGPOOL, LENET_CONV(16, 5, CNN_ACT_SIGMOID), AVGPOOL,
    FLATTEN, LENET_FC(120, CNN_ACT_SIGMOID), LENET_FC(84, CNN_ACT_SIGMOID), LINEAR(10, CNN_BIAS_YES),
};
static const cnn_layer_desc old_vgg16_bn[] = {
    VGG_BN(64), VGG_BN(64), MAXPOOL, VGG_BN(128), VGG_BN(128), MAXPOOL,
    VGG_BN(256), VGG_BN(256), VGG_BN(256), MAXPOOL, VGG_BN(512), VGG_BN(512), VGG_BN(512), MAXPOOL,
    VGG_BN(512), VGG_BN(512), VGG_BN(512), MAXPOOL, FLATTEN, DROPOUT, LINEAR(10, CNN_BIAS_YES),
};

static void same_as_table(const char *name, const cnn_layer_desc *layers, int count)
{
    static const char *const options[] = {"", "norm=batch", "norm=group groups=2",
                                          "activation=gelu dropout=0.3 dropconnect=0.2",
                                          "kernel_size=3", "norm=none"};
    cnn_model_desc old = {.name = name, .about = "", .in_h = 32, .in_w = 32, .in_c = 3,
                          .classes = 10, .count = count, .layers = layers};
    for (size_t k = 0; k < sizeof options / sizeof options[0]; k++) {
        cnn_model_options o;
        cnn_error err;
        cnn_model *a = NULL, *b = NULL;
        if (cnn_model_options_parse(options[k], &o, &err) ||
            cnn_model_create(&old, &o, &a, &err) ||
            cnn_model_create(cnn_model_find(name), &o, &b, &err)) {
            check(0, "%s %s: %s", name, options[k], err.msg);
            cnn_model_destroy(a);
            continue;
        }
        int same = a->count == b->count && a->param_count == b->param_count;
        for (int i = 0; same && i < a->count; i++) {
            const cnn_layer_desc *x = &a->layers[i].desc, *y = &b->layers[i].desc;
            same = x->kind == y->kind && x->out == y->out && x->k == y->k &&
                   x->stride == y->stride && x->pad == y->pad && x->bias == y->bias &&
                   x->act == y->act && x->p == y->p && x->groups == y->groups &&
                   x->slots == y->slots && x->from_count == y->from_count && x->from[0] == y->from[0];
            if (!same)
                printf("  %s %s: layer %d differs\n", name, options[k], i + 1);
        }
        check(same, "models/%s.cnn resolves to the C table it replaced, options '%s'", name,
              options[k]);
        cnn_model_destroy(a);
        cnn_model_destroy(b);
    }
    printf("  %s: same layers, slots and parameters as the old table under 6 option sets\n", name);
}

/* ---- a hand-written graph model, fast vs reference, and training ---- */

static void train_case(const cnn_model_desc *d)
{
    cnn_error err;
    cnn_model *m;
    cnn_plan *p;
    cnn_optim opt;
    cnn_optim_config oc;
    cnn_optim_config_defaults(&oc, CNN_OPT_SGD);
    oc.lr = 0.05f;
    oc.momentum = 0.9f;
    if (cnn_model_create(d, NULL, &m, &err) || cnn_plan_create(m, 32, NULL, 1, &p, &err)) {
        check(0, "%s: %s", d->name, err.msg);
        return;
    }
    cnn_model_init(m, 5);
    cnn_optim_init(&opt, &oc, m->param_count, &err);
    double head, tail;
    synth_train(p, m, &opt, oc.lr, 50, &head, &tail);
    printf("  %s trains (50 steps, synthetic patches): loss %.4f -> %.4f\n", d->name, head, tail);
    check(tail < 0.7 * head, "%s: the loss falls by more than 30%% (%.4f -> %.4f)", d->name, head,
          tail);
    cnn_optim_free(&opt);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
}

static void graph_cases(void)
{
    printf("tests/models/graph.cnn (residual + concatenation), size=12:\n");
    cnn_model_file *f;
    cnn_error err;
    if (cnn_model_file_read("tests/models/graph.cnn", "size=12 growth=8", &f, &err)) {
        check(0, "tests/models/graph.cnn: %s", err.msg);
        return;
    }
    int adds = 0, concats = 0, shortcuts = 0;
    for (int i = 0; i < f->desc.count; i++) {
        adds += f->desc.layers[i].kind == CNN_LAYER_ADD;
        concats += f->desc.layers[i].kind == CNN_LAYER_CONCAT;
        shortcuts += f->desc.layers[i].kind == CNN_LAYER_SHORTCUT;
    }
    check(f->desc.in_h == 12 && adds == 2 && concats == 2 && shortcuts == 1,
          "graph.cnn: 12x12 input, 2 additions, 2 concatenations, 1 shortcut (found %d, %d, %d, %d)",
          f->desc.in_h, adds, concats, shortcuts);
    compare_backends(&f->desc, 4, PLAN_COMPARE_LABELS);
    train_case(&f->desc);
    cnn_model_file_free(f);
}

/* ---- errors ---- */

typedef struct bad_case {
    const char *what;
    const char *text;
    const char *vars;
    const char *where;   /* the message starts with it */
    const char *says[3]; /* and contains these */
} bad_case;

static const bad_case bad_cases[] = {
    {"unknown key", "input 8 8 3\nconv 8 k=3 kernl=2\n", NULL, "bad.cnn:2:12: ",
     {"unknown key 'kernl'", "expected one of: k, stride, pad, bias, knobs, from"}},
    {"duplicate key", "conv 8 k=3 pad=1 k=5\n", NULL, "bad.cnn:1:18: ",
     {"duplicate key 'k'", "first at 1:8"}},
    {"missing argument", "flatten\n  linear   # features?\n", NULL, "bad.cnn:2:10: ",
     {"linear: expected 1 argument", "linear OUT", "found 0"}},
    {"missing k", "conv 8 pad=1\n", NULL, "bad.cnn:1:1: ", {"conv: expected k=K", "found no k="}},
    {"bad value", "conv 8 k=3 bias=maybe\n", NULL, "bad.cnn:1:17: ",
     {"conv bias: expected yes, no or auto", "found 'maybe'"}},
    {"bad gamma", "conv 8 k=3\nbatchnorm gamma=2\n", NULL, "bad.cnn:2:17: ",
     {"batchnorm gamma: expected 0 to 1", "found 2"}},
    {"gamma on a conv", "conv 8 k=3 gamma=0\n", NULL, "bad.cnn:1:12: ",
     {"unknown key 'gamma'"}},
    {"bad probability", "flatten\ndropout 1.5\n", NULL, "bad.cnn:2:9: ",
     {"expected a probability in [0, 1)", "found '1.5'"}},
    {"value out of range", "conv 0 k=3\n", NULL, "bad.cnn:1:6: ",
     {"conv channels: expected 1 to", "found 0"}},
    {"unknown layer kind", "conv 8 k=3\nconvolution 8 k=3\n", NULL, "bad.cnn:2:1: ",
     {"expected a layer kind", "found 'convolution'"}},
    {"unknown label", "a: conv 8 k=3\nb: relu\nadd a, c\n", NULL, "bad.cnn:3:8: ",
     {"unknown label 'c'", "expected one defined earlier", "in, a, b"}},
    {"duplicate label", "x = 1\na: conv 8 k=3\na: relu\n", NULL, "bad.cnn:3:1: ",
     {"duplicate label 'a'", "first at line 2"}},
    {"unknown block", "block basic width\n  conv $width k=3\nend\nresblock 8\n", NULL,
     "bad.cnn:4:1: ", {"or a block (basic)", "found 'resblock'"}},
    {"too many block arguments", "block basic width stride=1\n  conv $width k=3 stride=$stride\nend\n"
     "basic 8 2 3\n", NULL, "bad.cnn:4:11: ", {"block basic: expected at most 2 arguments", "found 3"}},
    {"missing block argument", "block basic width stride=1\n  conv $width k=3 stride=$stride\nend\n"
     "basic stride=2\n", NULL, "bad.cnn:4:1: ", {"expected 1 argument (basic width stride=1)", "missing 'width'"}},
    {"unknown block key", "block basic width\n  conv $width k=3\nend\nbasic 8 widht=3\n", NULL,
     "bad.cnn:4:9: ", {"block basic: unknown key 'widht'", "expected a parameter"}},
    {"recursion", "block a n\n  conv $n k=1\n  b $n\nend\nblock b n\n  a $n\nend\na 4\n", NULL,
     "bad.cnn:6:3: ", {"recursion", "found a -> b -> a"}},
    {"missing end", "block a n\n  repeat 2\n    conv $n k=1\n  end\na 4\n", NULL, "bad.cnn:1:1: ",
     {"expected 'end' closing this 'block'", "found the end of the file"}},
    {"stray end", "conv 8 k=3\nend\n", NULL, "bad.cnn:2:1: ", {"expected 'end' only to close",
     "found one with nothing open"}},
    {"duplicate setting", "name a\nabout first\nname b\nconv 8 k=3\n", NULL, "bad.cnn:3:1: ",
     {"duplicate setting 'name'", "first at line 1"}},
    {"setting after layers", "conv 8 k=3\nclasses 5\n", NULL, "bad.cnn:2:1: ",
     {"expected header settings before the first layer (line 1)", "found 'classes'"}},
    {"unknown variable", "width = 8\nconv $widht*2 k=3\n", NULL, "bad.cnn:2:6: ",
     {"expected a variable set before this line", "found unknown '$widht'"}},
    {"bad expression", "w = 8\nconv ($w*) k=3\n", NULL, "bad.cnn:2:10: ",
     {"expected a number, $variable or '('", "found ')'"}},
    {"duplicate variable", "w = 8\nconv 4 k=1\nw = 9\n", NULL, "bad.cnn:3:1: ",
     {"duplicate variable 'w'", "first set at line 1"}},
    {"undeclared variable from outside", "w = 8\nconv $w k=3\n", "width=4", "bad.cnn: ",
     {"cannot set variable 'width'", "declares at its top level (w)"}},
    {"bad defaults", "defaults norm=batchnorm\nconv 8 k=3\n", NULL, "bad.cnn:1:15: ",
     {"defaults norm: expected none, batch, layer, instance or group", "found 'batchnorm'"}},
    {"bad defaults init", "defaults init=he\nconv 8 k=3\n", NULL, "bad.cnn:1:15: ",
     {"defaults init: expected pytorch, kaiming or xavier", "found 'he'"}},
    {"label on a setting", "a: name x\nconv 8 k=3\n", NULL, "bad.cnn:1:1: ",
     {"expected a label only before a layer or block call", "found one before 'name'"}},
    {"add arity", "a: conv 8 k=3\nadd a\n", NULL, "bad.cnn:2:5: ", {"add: expected 2 labels", "found 1"}},
    {"no layers", "# nothing here\nname empty\n", NULL, "bad.cnn: ",
     {"expected at least one layer", "found none"}},
};

static void error_cases(void)
{
    printf("malformed model files (each message checked for FILE:LINE:COL and its words):\n");
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        cnn_model_file *f = NULL;
        cnn_error err = {0};
        cnn_status st = cnn_model_file_parse("bad.cnn", c->text, c->vars, &f, &err);
        printf("  %-32s %s\n", c->what, err.msg);
        int ok = st == CNN_STATUS_FORMAT && f == NULL &&
                 strncmp(err.msg, c->where, strlen(c->where)) == 0;
        for (int j = 0; j < 3 && c->says[j]; j++)
            ok = ok && strstr(err.msg, c->says[j]) != NULL;
        check(ok, "%s: expected '%s' ... '%s', found '%s'", c->what, c->where, c->says[0], err.msg);
        cnn_model_file_free(f);
    }

    /* Shapes are checked when the model is made: both layers and shapes named. */
    static const char text[] = "input 8 8 3\n"
                               "block twin width\n"
                               "    a: conv $width k=3 pad=1\n"
                               "    b: conv $width k=3 stride=2 pad=1 from=in\n"
                               "    add a, b\n"
                               "end\n"
                               "twin 4\n"
                               "gap\n"
                               "linear 10\n";
    cnn_model_file *f;
    cnn_model *m = NULL;
    cnn_error err = {0};
    cnn_status st = cnn_model_file_parse("shapes.cnn", text, NULL, &f, &err);
    check(st == CNN_STATUS_OK, "shapes.cnn parses: %s", st ? err.msg : "");
    if (st)
        return;
    st = cnn_model_create(&f->desc, NULL, &m, &err);
    printf("  %-32s %s\n", "shape mismatch", err.msg);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "layer 3 'twin1.add'") &&
              strstr(err.msg, "shapes.cnn:5") && strstr(err.msg, "'twin1.a'") &&
              strstr(err.msg, "shapes.cnn:3) gives 8x8x4") && strstr(err.msg, "'twin1.b'") &&
              strstr(err.msg, "shapes.cnn:4) gives 4x4x4"),
          "a shape mismatch names the layer, both inputs with their lines and both shapes");
    cnn_model_destroy(m);
    cnn_model_file_free(f);
}

/* ---- what the format accepts ---- */

static int same_layers(const cnn_model_desc *a, const cnn_model_desc *b)
{
    if (a->count != b->count || strcmp(a->name, b->name) || strcmp(a->about, b->about))
        return 0;
    for (int i = 0; i < a->count; i++) {
        cnn_layer_desc x = a->layers[i], y = b->layers[i];
        if (strcmp(x.label, y.label))
            return 0;
        x.label = y.label = NULL;
        x.origin = y.origin = NULL;
        if (memcmp(&x, &y, sizeof x))
            return 0;
    }
    return 1;
}

static void format_cases(void)
{
    printf("comments, CRLF, no final newline:\n");
    static const char *const texts[] = {
        "name t\nabout a test\nw = 4\nb: conv $w k=3 pad=1\nnorm\nadd b, in\nflatten\nlinear 10\n",
        "# a comment line\nname t   # the name\nabout a test # (comments end the text)\n"
        "  w = 4#no space\n\n   \nb: conv $w k=3 pad=1   \t# trailing\nnorm\nadd b, in\n"
        "flatten\nlinear 10 # end",
        "name t\r\nabout a test\r\nw = 4\r\nb: conv $w k=3 pad=1\r\nnorm\r\nadd b, in\r\n"
        "\r\nflatten\r\nlinear 10",
        "name t\r\nabout \"a test\"\r\nw=4\r\nb:   conv  $w   k=3 pad=same\r\nnorm\r\nadd b,in\r\n"
        "flatten\r\nlinear 10\r\n",
    };
    const char *what[] = {"plain", "comments everywhere, blank lines, no final newline",
                          "CRLF, no final newline", "CRLF, quotes, spacing, pad=same"};
    cnn_model_file *first = NULL;
    for (int i = 0; i < 4; i++) {
        cnn_model_file *f;
        cnn_error err = {0};
        cnn_status st = cnn_model_file_parse("fmt.cnn", texts[i], NULL, &f, &err);
        check(st == CNN_STATUS_OK, "%s: parses (%s)", what[i], err.msg);
        if (st)
            continue;
        if (!first)
            first = f;
        else {
            check(same_layers(&first->desc, &f->desc), "%s: the same model as the plain text",
                  what[i]);
            cnn_model_file_free(f);
        }
        printf("  %-52s accepted, %d layers\n", what[i], first->desc.count);
    }
    if (first) {
        const cnn_layer_desc *l = first->desc.layers;
        check(first->desc.count == 5 && l[0].kind == CNN_LAYER_CONV && l[0].out == 4 && l[0].pad == 1 &&
                  l[1].kind == CNN_LAYER_IDENTITY && l[1].slots == CNN_SLOT_NORM &&
                  l[2].kind == CNN_LAYER_ADD && l[2].from[0] == 0 && l[2].from[1] == -1 &&
                  !strcmp(l[0].label, "b") && !strcmp(l[0].origin, "fmt.cnn:4"),
              "fmt.cnn: conv, norm slot, add of the conv and the input; label and origin kept");
        cnn_model_file_free(first);
    }
}

/* 1 + the value of expr, read back from a linear layer's width. */
static long expr_value(const char *expr)
{
    char text[256];
    snprintf(text, sizeof text, "a = 6\nb = 4\nlinear 1+(%s)\n", expr);
    cnn_model_file *f;
    cnn_error err;
    if (cnn_model_file_parse("expr.cnn", text, "b=5", &f, &err)) {
        printf("  %s: %s\n", expr, err.msg);
        return -1;
    }
    long v = f->desc.layers[0].out - 1;
    cnn_model_file_free(f);
    return v;
}

static void expression_cases(void)
{
    static const struct {
        const char *expr;
        long value;
    } cases[] = {
        {"$a*4+1", 25}, {"$a + 2 * $b", 16}, {"($a + 2) * $b", 40}, {"$a / 4", 1},
        {"$a % 4", 2},  {"-$a + 10", 4},     {"$b > 4", 1},         {"$a == 6 && $b < 5", 0},
        {"$a >= 6 || 0", 1}, {"!($a - 6)", 1}, {"$a != $b", 1},     {"2*3*4-1", 23},
    };
    printf("expressions (a = 6, b = 4 set to 5 from outside):\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long v = expr_value(cases[i].expr);
        printf("  %-22s = %ld (expected %ld)\n", cases[i].expr, v, cases[i].value);
        check(v == cases[i].value, "%s = %ld, expected %ld", cases[i].expr, v, cases[i].value);
    }
}

/* The knob defaults of a file reach the slots; options still override them. */
/* gamma=0 starts a norm's scale at 0 (a residual branch that begins as
 * nothing); it stays with the slot when --norm changes its kind. */
static void gamma_cases(void)
{
    static const char text[] = "input 4 4 2\n"
                               "conv 4 k=3 pad=1\n"
                               "a: norm gamma=0\n"
                               "conv 4 k=1\n"
                               "b: batchnorm gamma=1\n"
                               "gap\n"
                               "linear 10\n";
    printf("gamma=0 on norms:\n");
    cnn_model_file *f;
    cnn_error err;
    if (cnn_model_file_parse("gamma.cnn", text, "", &f, &err)) {
        check(0, "gamma.cnn: %s", err.msg);
        return;
    }
    check(f->desc.layers[1].gamma0 == 1 && f->desc.layers[3].gamma0 == 0,
          "gamma=0 is recorded on its layer only");
    static const char *const norms[] = {"norm=batch", "norm=group groups=2", "norm=layer"};
    for (int k = 0; k < 3; k++) {
        cnn_model_options o;
        cnn_model *m;
        if (cnn_model_options_parse(norms[k], &o, &err) ||
            cnn_model_create(&f->desc, &o, &m, &err)) {
            check(0, "gamma.cnn with %s: %s", norms[k], err.msg);
            continue;
        }
        cnn_model_init(m, 1);
        const cnn_model_layer *a = &m->layers[1], *b = &m->layers[3];
        size_t half = a->param_count / 2, zeros = 0, ones = 0;
        for (size_t i = 0; i < half; i++)
            zeros += m->params[a->param_offset + i] == 0.0f;
        for (size_t i = 0; i < b->param_count / 2; i++)
            ones += m->params[b->param_offset + i] == 1.0f;
        check(half > 0 && zeros == half && ones == b->param_count / 2,
              "%s: the gamma=0 norm's %zu scales start at 0, the other's at 1", norms[k], half);
        cnn_model_destroy(m);
    }
    cnn_model_file_free(f);
}

static void knob_cases(void)
{
    static const char text[] =
        "defaults norm=group groups=2 act=tanh dropout=0.25 kernel=5 init=xavier\n"
        "conv 8 knobs=kernel,dropconnect pad=same\n"
        "norm\n"
        "act\n"
        "dropout\n"
        "dropout 0.5\n"
        "gap\n"
        "linear 10 knobs=none\n";
    cnn_model_file *f;
    cnn_error err;
    if (cnn_model_file_parse("knobs.cnn", text, NULL, &f, &err)) {
        check(0, "knobs.cnn: %s", err.msg);
        return;
    }
    const cnn_layer_desc *l = f->desc.layers;
    printf("knob defaults from `defaults`:\n");
    check(l[0].k == 5 && l[0].pad == 2 && l[0].slots == (CNN_SLOT_KERNEL | CNN_SLOT_DROPCONNECT),
          "conv: k from defaults kernel=5, pad same, kernel and DropConnect slots");
    check(l[1].kind == CNN_LAYER_GROUPNORM && l[1].groups == 2 && l[1].slots == CNN_SLOT_NORM,
          "norm: group norm with 2 groups");
    check(l[2].act == CNN_ACT_TANH && l[2].slots == CNN_SLOT_ACT, "act: tanh");
    check(l[3].kind == CNN_LAYER_DROPOUT && l[3].p == 0.25f && l[4].p == 0.5f &&
              l[3].slots == CNN_SLOT_DROPOUT, "dropout: 0.25 from defaults, 0.5 written");
    check(l[6].slots == 0, "linear knobs=none: no DropConnect slot");
    check(f->desc.init == CNN_INIT_XAVIER, "init: xavier from defaults");
    cnn_model *m;
    if (cnn_model_create(&f->desc, NULL, &m, &err) == CNN_STATUS_OK) {
        check(cnn_model_init_kind(m) == CNN_INIT_XAVIER, "the model initialises as its file says");
        cnn_model_destroy(m);
    }
    cnn_model_options o;
    cnn_model_options_parse("norm=batch activation=relu dropout=0.1 kernel_size=3 init=pytorch",
                            &o, &err);
    if (cnn_model_create(&f->desc, &o, &m, &err) == CNN_STATUS_OK) {
        check(cnn_model_init_kind(m) == CNN_INIT_PYTORCH, "options.init overrides the file's init");
        const cnn_model_layer *r = m->layers;
        check(r[0].desc.k == 3 && r[0].desc.pad == 1 && r[0].desc.bias == 0 &&
                  r[1].desc.kind == CNN_LAYER_BATCHNORM && r[2].desc.act == CNN_ACT_RELU &&
                  r[3].desc.p == 0.1f && r[4].desc.p == 0.1f,
              "options override the file's defaults");
        printf("  defaults reach the slots; --norm, --activation, --dropout, --kernel-size "
               "override them\n");
        cnn_model_destroy(m);
    } else {
        check(0, "knobs.cnn with options: %s", err.msg);
    }
    cnn_model_file_free(f);

    /* the built-ins' knobs: a few spot checks */
    const cnn_model_desc *vgg11 = cnn_model_find("vgg11"), *googlenet = cnn_model_find("googlenet");
    const cnn_model_desc *r20 = cnn_model_find("resnet20");
    check(vgg11->layers[1].kind == CNN_LAYER_IDENTITY && vgg11->layers[1].slots == CNN_SLOT_NORM,
          "vgg11: an empty norm slot after each conv");
    check(googlenet->layers[0].bias == CNN_BIAS_YES, "googlenet: convs keep their bias");
    check(vgg11->init == CNN_INIT_KAIMING && r20->init == CNN_INIT_DEFAULT,
          "vgg11 initialises with kaiming (plain VGG learns nothing otherwise); resnet20 as PyTorch");
    check(!strcmp(r20->layers[8].label, "basic1.add") &&
              !strcmp(r20->layers[8].origin, "models/resnet20.cnn:25") &&
              r20->layers[8].from[0] == 7 && r20->layers[8].from[1] == 2,
          "resnet20 layer 9 is basic1.add (models/resnet20.cnn:25) of layers 8 and 3: %s %s",
          r20->layers[8].label, r20->layers[8].origin);
}

int main(void)
{
    builtin_cases();
    printf("the files reproduce the C tables they replaced:\n");
    same_as_table("lenet5", old_lenet5, (int)(sizeof old_lenet5 / sizeof old_lenet5[0]));
    same_as_table("lenet5-classic", old_lenet5_classic,
                  (int)(sizeof old_lenet5_classic / sizeof old_lenet5_classic[0]));
    same_as_table("vgg16_bn", old_vgg16_bn, (int)(sizeof old_vgg16_bn / sizeof old_vgg16_bn[0]));
    graph_cases();
    error_cases();
    format_cases();
    expression_cases();
    knob_cases();
    gamma_cases();
    return check_finish("test_modelfile");
}
