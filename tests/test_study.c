/* test_study.c: the pure logic of studies (src/study/spec.c and the parts of
 * summary.c that need no run folder): --vary lists and presets, base flags in
 * canonical order, the ablation list and the grid product, the arguments of a
 * configuration, study.txt round trips and the different-study message,
 * configuration text (equal for equal trainings) and config.txt diffs, mean
 * and standard deviation, the sentence a report writes per factor, and the
 * sentence on whether single gains added up in their combination. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "cnnlab/cnnlab.h"
#include "cnnlab/study.h"

static cnn_study_spec spec, other;
static cnn_study_run runs[CNN_STUDY_MAX_RUNS];

static int has(const char *text, const char *part) { return strstr(text, part) != NULL; }

static void test_factors(void)
{
    cnn_study_factor f;
    cnn_error err = {0};
    cnn_status st = cnn_study_factor_parse("dropout=0,0.1,0.3", &f, &err);
    check(st == CNN_STATUS_OK && f.count == 3 && strcmp(f.flag, "dropout") == 0 &&
              strcmp(f.values[2], "0.3") == 0,
          "factor: dropout=0,0.1,0.3 -> flag %s, %d values", f.flag, f.count);
    check(cnn_study_factor_parse("--norm=batch", &f, &err) == 0 && strcmp(f.flag, "norm") == 0 &&
              f.count == 1, "factor: leading dashes are dropped (%s)", f.flag);
    check(cnn_study_factor_parse("dropout", &f, &err) && has(err.msg, "expected FLAG=v1,v2"),
          "factor: no '=' refused: %s", err.msg);
    check(cnn_study_factor_parse("dropout=0,,1", &f, &err) && has(err.msg, "empty value"),
          "factor: empty value refused: %s", err.msg);
    check(cnn_study_factor_parse("dropout=0.1,0.1", &f, &err) && has(err.msg, "listed twice"),
          "factor: repeated value refused: %s", err.msg);
    char text[256];
    cnn_study_factor_parse("augment=none,crop+flip", &f, &err);
    cnn_study_factor_format(&f, text, sizeof text);
    check(strcmp(text, "augment=none,crop+flip") == 0, "factor format round trip: %s", text);

    check(cnn_study_preset_factor("dropout", "lenet5", &f, &err) == 0 && f.count == 5 &&
              strcmp(f.values[4], "0.5") == 0, "preset dropout: 0 .. 0.5 (%d values)", f.count);
    check(cnn_study_preset_factor("lr-decay", "lenet5", &f, &err) == 0 &&
              strcmp(f.flag, "lr-schedule") == 0 && f.count == 6,
          "preset lr-decay varies --lr-schedule over 6 schedules");
    check(cnn_study_preset_factor("norm", "lenet5", &f, &err) == 0 && f.count == 5 &&
              strcmp(f.values[0], "none") == 0, "preset norm: none, batch, layer, instance, group");
    check(cnn_study_preset_factor("kernel-size", "lenet5", &f, &err) == 0 && f.count == 3,
          "preset kernel-size: 3, 5, 7");
    check(cnn_study_preset_factor("droput", "lenet5", &f, &err) && has(err.msg, "unknown preset") &&
              has(err.msg, "dropout, norm"), "unknown preset names the presets: %s", err.msg);
    st = cnn_study_preset_factor("depth", "vgg16_bn", &f, &err);
    if (st == CNN_STATUS_OK)
        check(strcmp(f.flag, "model") == 0 && f.count == 4 && strcmp(f.values[1], "vgg13_bn") == 0,
              "preset depth on vgg16_bn: the vgg*_bn family (%s ...)", f.values[0]);
    else
        check(has(err.msg, "VGG with batch norm") && has(err.msg, "do not exist"),
              "preset depth on vgg16_bn refuses naming the family: %s", err.msg);
    st = cnn_study_preset_factor("depth", "lenet5", &f, &err);
    check(st == CNN_STATUS_OK && strcmp(f.flag, "var") == 0 && f.count == 2 &&
              strcmp(f.values[0], "fc=2") == 0, "preset depth on lenet5: --vary var=fc=2,fc=3 (%s)",
          err.msg);
    check(cnn_study_preset_factor("depth", "nin", &f, &err) && has(err.msg, "no depth family"),
          "preset depth on a model of no family refused: %s", err.msg);
    int n = 0;
    for (const cnn_study_preset *p = cnn_study_presets(); p->name; p++)
        n++;
    check(n == 10, "10 presets (%d)", n);
}

static void test_base_args(void)
{
    const char *argv[] = {"--model", "lenet5", "--epochs=5", "--nesterov", "--lr", "0.1",
                          "--augment", "crop,flip"};
    cnn_error err = {0};
    memset(&spec, 0, sizeof spec);
    check(cnn_study_normalise_args(8, argv, &spec, &err) == 0 && spec.base_count == 9,
          "normalise: 9 arguments (%d)", spec.base_count);
    const char *want[] = {"--augment", "crop,flip", "--epochs", "5", "--lr", "0.1", "--model",
                          "lenet5", "--nesterov"};
    int ok = 1;
    for (int i = 0; i < 9; i++)
        ok &= strcmp(spec.base[i], want[i]) == 0;
    check(ok, "normalise: sorted by flag, --x=v split (%s %s %s ...)", spec.base[0], spec.base[1],
          spec.base[2]);
    const char *bad[] = {"lenet5"};
    check(cnn_study_normalise_args(1, bad, &spec, &err) && has(err.msg, "unexpected argument"),
          "normalise: a bare word refused: %s", err.msg);
}

/* spec: base --dropout 0.2 --model lenet5; vary dropout=0,0.5 (0 is the
 * control's) and norm=batch,layer. */
static void two_factor_spec(cnn_study_spec *s)
{
    const char *argv[] = {"--model", "lenet5", "--dropout", "0.2"};
    memset(s, 0, sizeof *s);
    cnn_study_normalise_args(4, argv, s, NULL);
    cnn_study_factor_parse("dropout=0.2,0.5", &s->factors[0], NULL);
    s->factors[0].is_control[0] = 1;
    cnn_study_factor_parse("norm=batch,layer", &s->factors[1], NULL);
    s->factor_count = 2;
    s->repeats = 1;
    s->seed = 7;
}

static void test_plan(void)
{
    cnn_error err = {0};
    int n;
    two_factor_spec(&spec);
    check(cnn_study_plan(&spec, runs, CNN_STUDY_MAX_RUNS, &n, &err) == 0 && n == 4,
          "ablation: control + 3 runs (the control's own dropout=0.2 not run again): %d", n);
    check(strcmp(runs[0].id, "control") == 0 && runs[0].factor == -1 &&
              strcmp(runs[0].label, "control (dropout=0.2)") == 0,
          "ablation: the control first, labelled '%s'", runs[0].label);
    check(strcmp(runs[1].id, "dropout=0.5") == 0 && runs[1].factor == 0 && runs[1].value[0] == 1 &&
              runs[1].value[1] == -1, "ablation: one change at a time (%s)", runs[1].id);
    check(strcmp(runs[3].id, "norm=layer") == 0 && runs[3].config == 3 && runs[3].seed == 7,
          "ablation: norm=layer is configuration 3 with seed 7 (%s, %d)", runs[3].id, runs[3].config);
    spec.repeats = 3;
    cnn_study_plan(&spec, runs, CNN_STUDY_MAX_RUNS, &n, &err);
    check(n == 12 && strcmp(runs[0].id, "control_s7") == 0 && strcmp(runs[2].id, "control_s9") == 0 &&
              runs[2].seed == 9 && runs[2].repeat == 2 && runs[3].config == 1 &&
              cnn_study_config_count(runs, n) == 4,
          "repeats 3: 12 runs, seeds 7..9 per configuration (%s .. %s)", runs[0].id, runs[2].id);

    /* Grid: 2 x 3, the first factor varying slowest. */
    memset(&spec, 0, sizeof spec);
    cnn_study_factor_parse("dropout=0,0.5", &spec.factors[0], NULL);
    cnn_study_factor_parse("kernel-size=3,5,7", &spec.factors[1], NULL);
    spec.factor_count = 2;
    spec.grid = 1;
    spec.repeats = 1;
    spec.seed = 1;
    check(cnn_study_plan(&spec, runs, CNN_STUDY_MAX_RUNS, &n, &err) == 0 && n == 6,
          "grid: 2 x 3 = 6 runs (%d)", n);
    check(runs[0].value[0] == 0 && runs[0].value[1] == 0 && runs[2].value[1] == 2 &&
              runs[3].value[0] == 1 && runs[3].value[1] == 0 && runs[5].config == 5,
          "grid: product order, last factor fastest");
    check(strcmp(runs[4].id, "dropout=0.5_kernel-size=5") == 0 &&
              strcmp(runs[4].label, "dropout=0.5 kernel-size=5") == 0,
          "grid: id '%s', label '%s'", runs[4].id, runs[4].label);
    spec.factor_count = 0;
    check(cnn_study_plan(&spec, runs, CNN_STUDY_MAX_RUNS, &n, &err) && has(err.msg, "--grid"),
          "grid without factors refused: %s", err.msg);
    memset(&spec, 0, sizeof spec);
    cnn_study_factor_parse("model=a/b c", &spec.factors[0], NULL);
    spec.factor_count = 1;
    spec.repeats = 1;
    cnn_study_plan(&spec, runs, CNN_STUDY_MAX_RUNS, &n, &err);
    check(strcmp(runs[1].id, "model=a-b-c") == 0, "run ids keep only safe characters: %s",
          runs[1].id);

    /* The count, without the runs: the plan's own, and a product far past
     * the limit (32^8, more than an int holds) refused before any is made. */
    two_factor_spec(&spec);
    spec.repeats = 3;
    int counted;
    check(cnn_study_count(&spec, CNN_STUDY_MAX_RUNS, &counted, &err) == 0 && counted == 12,
          "count: the ablation's 12 runs (%d)", counted);
    memset(&spec, 0, sizeof spec);
    char values[CNN_STUDY_MAX_VALUES * 4] = "f=0";
    for (int v = 1; v < CNN_STUDY_MAX_VALUES; v++)
        snprintf(values + strlen(values), sizeof values - strlen(values), ",%d", v);
    for (int f = 0; f < CNN_STUDY_MAX_FACTORS; f++) {
        values[0] = (char)('a' + f);
        cnn_study_factor_parse(values, &spec.factors[f], NULL);
    }
    spec.factor_count = CNN_STUDY_MAX_FACTORS;
    spec.grid = 1;
    spec.repeats = 1;
    check(cnn_study_count(&spec, CNN_STUDY_MAX_RUNS, &counted, &err) != 0 &&
              has(err.msg, "more than 2048 runs") && has(err.msg, "32 x 32 x 32"),
          "count: a grid of 8 factors of 32 values refused: %s", err.msg);
    check(cnn_study_plan(&spec, runs, CNN_STUDY_MAX_RUNS, &n, &err) != 0 && n == 0,
          "plan: the same grid refused before any run is made (%d runs)", n);
}

static int args_are(const char **argv, int n, const char *want)
{
    char got[1024] = "";
    for (int i = 0; i < n; i++) {
        strcat(got, i ? " " : "");
        strcat(got, argv[i]);
    }
    if (strcmp(got, want) != 0)
        printf("  got '%s', want '%s'\n", got, want);
    return strcmp(got, want) == 0;
}

static void test_config_args(void)
{
    const char *argv[CNN_STUDY_MAX_ARGS + 2 * CNN_STUDY_MAX_FACTORS];
    char scratch[2 * CNN_STUDY_MAX_FACTORS][CNN_STUDY_ARG_LEN];
    two_factor_spec(&spec);
    int value[CNN_STUDY_MAX_FACTORS] = {-1, -1};
    int n = cnn_study_config_args(&spec, value, argv, scratch);
    check(args_are(argv, n, "--dropout 0.2 --model lenet5"), "args: the control is the base");
    value[0] = 1;
    n = cnn_study_config_args(&spec, value, argv, scratch);
    check(args_are(argv, n, "--model lenet5 --dropout 0.5"), "args: a varied flag replaces the base's");
    value[0] = -1;
    value[1] = 0;
    n = cnn_study_config_args(&spec, value, argv, scratch);
    check(args_are(argv, n, "--dropout 0.2 --model lenet5 --norm batch"), "args: norm added");

    memset(&spec, 0, sizeof spec);
    cnn_study_factor_parse("augment=none,crop+flip", &spec.factors[0], NULL);
    cnn_study_factor_parse("nesterov=on,off", &spec.factors[1], NULL);
    spec.factors[1].is_bool = 1;
    spec.factor_count = 2;
    int v2[CNN_STUDY_MAX_FACTORS] = {1, 0};
    n = cnn_study_config_args(&spec, v2, argv, scratch);
    check(args_are(argv, n, "--augment crop,flip --nesterov"), "args: crop+flip -> crop,flip; on");
    v2[1] = 1;
    n = cnn_study_config_args(&spec, v2, argv, scratch);
    check(args_are(argv, n, "--augment crop,flip"), "args: a flag without value, off");
}

static void test_study_text(void)
{
    static char text[65536];
    cnn_error err = {0};
    two_factor_spec(&spec);
    snprintf(spec.preset, sizeof spec.preset, "dropout");
    cnn_study_spec_format(&spec, text, sizeof text);
    check(has(text, "base = --dropout 0.2\n") && has(text, "vary = norm=batch,layer\n") &&
              has(text, "control_value = dropout=0.2\n"), "study.txt text:\n%s", text);
    check(cnn_study_spec_parse(text, &other, &err) == 0 && cnn_study_spec_same(&spec, &other, NULL, 0) &&
              other.factors[0].is_control[0] && !other.factors[0].is_control[1] &&
              other.seed == 7 && strcmp(other.preset, "dropout") == 0,
          "study.txt round trip (%s)", err.msg);
    char why[8192];
    snprintf(other.base[3], CNN_STUDY_ARG_LEN, "lenet5-classic");
    check(!cnn_study_spec_same(&other, &spec, why, sizeof why) && has(why, "lenet5-classic") &&
              has(why, "versus base [--dropout 0.2 --model lenet5]"),
          "a different base is another study, both named: %s", why);
    cnn_study_spec_parse(text, &other, &err);
    other.repeats = 2;
    check(!cnn_study_spec_same(&other, &spec, NULL, 0), "different repeats: another study");
    check(cnn_study_spec_parse("base --model\n", &other, &err) && has(err.msg, "study.txt:1"),
          "a broken study.txt names the line: %s", err.msg);
}

static void test_settings_and_diff(void)
{
    static char a[65536], b[65536];
    cnn_error err = {0};
    cnn_train_config c;
    cnn_train_config_defaults(&c);
    c.model = "lenet5";
    check(cnn_study_settings_text(&c, a, sizeof a, &err) == 0 && has(a, "model lenet5"),
          "settings text of lenet5 (%s)", err.msg);
    c.model_options.dropout = 0;
    cnn_study_settings_text(&c, b, sizeof b, &err);
    check(strcmp(a, b) == 0, "settings: --dropout 0 trains what lenet5 without dropout trains");
    c.model_options.norm = CNN_NORM_NONE;
    cnn_study_settings_text(&c, b, sizeof b, &err);
    check(strcmp(a, b) == 0, "settings: --norm none is lenet5's own");
    c.model_options.dropout = 0.3f;
    cnn_study_settings_text(&c, b, sizeof b, &err);
    check(strcmp(a, b) != 0, "settings: --dropout 0.3 differs");
    c.model_options.dropout = -1;
    c.seed = 99;
    c.threads = 7;
    cnn_study_settings_text(&c, b, sizeof b, &err);
    check(strcmp(a, b) == 0, "settings: seed and threads are not settings of the training");
    c.model_vars = "fc=3";
    cnn_study_settings_text(&c, b, sizeof b, &err);
    check(strcmp(a, b) == 0, "settings: --var fc=3 is lenet5's own");
    c.model_vars = "fc=2";
    cnn_study_settings_text(&c, b, sizeof b, &err);
    check(strcmp(a, b) != 0, "settings: --var fc=2 differs");
    c.model_vars = NULL;
    c.model = "no-such-model";
    check(cnn_study_settings_text(&c, b, sizeof b, &err) && has(err.msg, "no-such-model"),
          "settings: unknown model: %s", err.msg);

    char diff[512];
    cnn_study_settings_diff("optimizer sgd lr 0.05 momentum 0.9\nepochs 5\n",
                            "optimizer sgd lr 0.01 momentum 0.9\nepochs 6\n", diff, sizeof diff);
    check(strcmp(diff, "lr 0.05 -> 0.01; epochs 5 -> 6") == 0, "settings diff: '%s'", diff);
    cnn_study_settings_diff(a, a, diff, sizeof diff);
    check(diff[0] == 0, "settings diff of equal texts is empty");
    const char *control = "# cnnlab run\nmodel = lenet5\ndropout = 0\nmilestones = \n"
                          "seed = 1\nthreads = 2\ndata = /x\nnorm = model default\nold = 1\n";
    const char *run = "# reproduce with: --dropout 0.3\nmodel = lenet5\ndropout = 0.3\n"
                      "milestones = 2,3\nseed = 2\nthreads = 1\ndata = /y\nnorm = model default\n";
    cnn_study_config_diff(control, run, diff, sizeof diff);
    check(strcmp(diff, "dropout=0.3; milestones=2,3; old=(none)") == 0,
          "config diff: '%s' (seed, threads, data ignored; comments ignored)", diff);
    cnn_study_config_diff(control, control, diff, sizeof diff);
    check(diff[0] == 0, "config diff of a run with itself is empty ('%s')", diff);
}

static void test_mean_std(void)
{
    double x[] = {0.1, 0.2, 0.3, 0.4, NAN}, m, s;
    int k = cnn_study_mean_std(x, 5, &m, &s);
    check(k == 4 && fabs(m - 0.25) < 1e-12 && fabs(s - 0.129099444873581) < 1e-12,
          "mean/std of 0.1..0.4 (NaN skipped): %d values, %.6f ± %.6f (sample std, n-1)", k, m, s);
    k = cnn_study_mean_std(x, 1, &m, &s);
    check(k == 1 && m == 0.1 && s == 0, "one value: std 0");
    k = cnn_study_mean_std(x + 4, 1, &m, &s);
    check(k == 0 && isnan(m), "no finite value: mean NaN");
}

static void test_sentence(void)
{
    char out[1024];
    cnn_study_level lv[] = {
        {"the control (dropout=0)", 0.60, 0.004, 3, 1},
        {"dropout=0.3", 0.63, 0.005, 3, 0},
        {"dropout=0.5", 0.61, 0.003, 3, 0},
    };
    cnn_study_sentence("dropout", lv, 3, 1, out, sizeof out);
    check(strcmp(out, "dropout: dropout=0.3 won with 63.00% validation accuracy, 3.00 points above "
                      "the control (dropout=0) at 60.00%.") == 0, "sentence, one seed: %s", out);
    cnn_study_sentence("dropout", lv, 3, 3, out, sizeof out);
    check(has(out, "larger than the seed-to-seed spread (std up to 0.50 points over 3 seeds)"),
          "sentence, 3 seeds, difference beyond the spread: %s", out);
    lv[1].mean = 0.604;
    lv[2].mean = 0.602;
    cnn_study_sentence("dropout", lv, 3, 3, out, sizeof out);
    check(has(out, "dropout=0.3 won") && has(out, "within the seed-to-seed spread") &&
              has(out, "do not tell them apart"), "sentence, within the spread: %s", out);
    lv[0].mean = 0.65;
    cnn_study_sentence("dropout", lv, 3, 1, out, sizeof out);
    check(has(out, "no value beat the control (dropout=0) at 65.00%") &&
              has(out, "the closest, dropout=0.3, was 4.60 points lower"),
          "sentence, the control wins: %s", out);
    lv[2].mean = NAN;
    lv[2].n = 0;
    cnn_study_sentence("dropout", lv, 3, 1, out, sizeof out);
    check(has(out, "without a result (diverged or not run): dropout=0.5."),
          "sentence names a diverged value: %s", out);
    lv[1].mean = NAN;
    lv[1].n = 0;
    cnn_study_sentence("dropout", lv, 3, 1, out, sizeof out);
    check(has(out, "only the control (dropout=0) has a result, 65.00%"),
          "sentence when only the control has a result: %s", out);
    lv[0].mean = lv[1].mean = NAN;
    lv[0].n = lv[1].n = 0;
    cnn_study_sentence("dropout", lv, 3, 1, out, sizeof out);
    check(has(out, "no run has a validation result yet"), "sentence with no results: %s", out);
}

static void test_combine_sentence(void)
{
    char out[1024];
    cnn_study_level control = {"the control", 0.60, 0.004, 3, 1};
    cnn_study_level singles[] = {
        {"dropout=0.3", 0.63, 0.005, 3, 0}, /* +3 points */
        {"norm=batch", 0.62, 0.003, 3, 0},  /* +2 points: the sum is +5 */
    };
    cnn_study_level combo = {"the combination", 0.648, 0.004, 3, 0};
    cnn_study_combine_sentence(&control, singles, 2, &combo, 3, out, sizeof out);
    check(has(out, "The gains added up: the combination gained +4.80 points over the control "
                   "against +5.00 for the single gains summed, and beat the best single winner, "
                   "dropout=0.3, by 1.80 points") && has(out, "std up to 0.50 points over 3 seeds"),
          "combination near the sum: added up: %s", out);
    combo.mean = 0.70;
    cnn_study_combine_sentence(&control, singles, 2, &combo, 3, out, sizeof out);
    check(has(out, "added up") && has(out, "more than their sum"), "above the sum: %s", out);
    combo.mean = 0.635;
    cnn_study_combine_sentence(&control, singles, 2, &combo, 3, out, sizeof out);
    check(has(out, "The gains partly added up: the combination beat the best single winner, "
                   "dropout=0.3, by 0.50 points, but gained +3.50 points over the control, well "
                   "short of the +5.00"), "above the best winner, short of the sum: partly: %s",
          out);
    combo.mean = 0.61;
    cnn_study_combine_sentence(&control, singles, 2, &combo, 3, out, sizeof out);
    check(has(out, "The gains did not add up: the combination (61.00%) fell 2.00 points below the "
                   "best single winner, dropout=0.3 (63.00%)") && has(out, "over-regularise") &&
              !has(out, "within the seed-to-seed spread"), "below the best winner: did not: %s", out);
    combo.mean = 0.628;
    cnn_study_combine_sentence(&control, singles, 2, &combo, 3, out, sizeof out);
    check(has(out, "did not add up") && has(out, "within the seed-to-seed spread"),
          "slightly below the best winner, within the spread: %s", out);
    combo.mean = NAN;
    combo.n = 0;
    cnn_study_combine_sentence(&control, singles, 2, &combo, 3, out, sizeof out);
    check(has(out, "has no result yet"), "combination without a result: %s", out);
    cnn_study_combine_sentence(&control, singles, 1, NULL, 3, out, sizeof out);
    check(has(out, "Only dropout=0.3 beat the control") && has(out, "nothing more was trained"),
          "one winner: nothing to combine: %s", out);
    cnn_study_combine_sentence(&control, singles, 0, NULL, 3, out, sizeof out);
    check(has(out, "No varied value beat the control") && has(out, "nothing more was trained"),
          "no winner: nothing to combine: %s", out);
}

int main(void)
{
    test_factors();
    test_base_args();
    test_plan();
    test_config_args();
    test_study_text();
    test_settings_and_diff();
    test_mean_std();
    test_sentence();
    test_combine_sentence();
    return check_finish("test_study");
}
