/* test_plot.c: the plot module on fake run folders it writes itself: curves of
 * three runs (different epoch counts, a NaN, a diverged run with an exploding
 * loss, a learning rate falling 100x), one run alone (train vs validation), a
 * confusion matrix, its CSV, and the errors: empty, header-only and missing
 * metrics.csv, and gnuplot missing (PATH emptied). With gnuplot installed the
 * pictures are checked (PNG signature and size, SVG, the script and data
 * holding the labels and values); without it, the MISSING_DATA status and its
 * message. `test_plot DIR` keeps the pictures in DIR (to look at them). */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "cnnlab/plot.h"
#include "core/core.h"

static char root[4096];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mkdir(dir, 0755);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* The whole file as a string ("" when missing); size in *size. */
static char *slurp(const char *path, size_t *size)
{
    unsigned char *data = NULL;
    cnn_error err;
    *size = 0;
    if (cnn_file_read_all(path, &data, size, &err))
        return calloc(1, 1);
    return (char *)data;
}

static void check_png(const char *prefix, const char *kind)
{
    char path[8192];
    size_t size;
    snprintf(path, sizeof path, "%s-%s.png", prefix, kind);
    char *png = slurp(path, &size);
    check(size > 2048 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0,
          "%s: a PNG over 2 KB (found %zu bytes)", path, size);
    free(png);
    snprintf(path, sizeof path, "%s-%s.svg", prefix, kind);
    char *svg = slurp(path, &size);
    check(size > 2048 && strstr(svg, "<svg") != NULL, "%s: an SVG over 2 KB (found %zu bytes)",
          path, size);
    free(svg);
}

static void check_contains(const char *path, const char *what)
{
    size_t size;
    char *text = slurp(path, &size);
    check(strstr(text, what) != NULL, "%s contains \"%s\"", path, what);
    free(text);
}

/* Three runs: A (6 epochs, lr falling 100x, l2_penalty column), B (4 epochs,
 * one NaN validation loss), C (diverged in epoch 3 after a loss of 9000). */
static void make_runs(char dirs[3][4200])
{
    snprintf(dirs[0], sizeof dirs[0], "%s/run_a", root);
    snprintf(dirs[1], sizeof dirs[1], "%s/run_b", root);
    snprintf(dirs[2], sizeof dirs[2], "%s/lr=5_it's", root);
    write_file(dirs[0], "metrics.csv",
               "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second,"
               "l2_penalty\n"
               "1,2.012345,0.251000,1.876543,0.312000,0.1,10.0,5000.0,0.01\n"
               "2,1.701000,0.380000,1.602000,0.421000,0.05,10.0,5000.0,0.01\n"
               "3,1.502000,0.455000,1.455000,0.480000,0.02,10.0,5000.0,0.01\n"
               "4,1.351000,0.512000,1.381000,0.507000,0.01,10.0,5000.0,0.01\n"
               "5,1.252000,0.551000,1.352000,0.521000,0.005,10.0,5000.0,0.01\n"
               "6,1.190000,0.574000,1.349000,0.526000,0.001,10.0,5000.0,0.01\n");
    write_file(dirs[1], "metrics.csv",
               "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second\n"
               "1,2.100000,0.220000,1.950000,0.280000,0.1,9.0,5100.0\n"
               "2,1.800000,0.350000,nan,0.390000,0.1,9.0,5100.0\n"
               "3,1.620000,0.420000,1.530000,0.447000,0.1,9.0,5100.0\n"
               "4,1.500000,0.470000,1.470000,0.468000,0.1,9.0,5100.0\n");
    write_file(dirs[2], "metrics.csv",
               "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second\n"
               "1,2.300000,0.100000,2.310000,0.100000,5,9.0,5100.0\n"
               "2,80.500000,0.100000,9000.000000,0.100000,5,9.0,5100.0\n");
    write_file(dirs[2], "status.txt",
               "status = diverged\nepochs_run = 2\nbest_epoch = 1\nbest_val_acc = 0.100000\n"
               "detail = loss NaN at epoch 3 step 4\n");
}

static const int confusion[10][10] = {
    {812, 20, 35, 10, 12, 3, 8, 9, 61, 30},   {15, 870, 4, 6, 2, 3, 7, 4, 25, 64},
    {60, 5, 601, 70, 90, 60, 65, 35, 9, 5},   {20, 10, 80, 520, 70, 190, 60, 30, 10, 10},
    {20, 4, 70, 55, 700, 30, 50, 60, 8, 3},   {12, 5, 60, 160, 50, 640, 25, 40, 4, 4},
    {8, 6, 45, 60, 35, 20, 810, 6, 6, 4},     {15, 4, 30, 40, 55, 50, 6, 790, 4, 6},
    {50, 30, 10, 8, 6, 3, 4, 4, 860, 25},     {25, 70, 6, 9, 4, 5, 6, 12, 30, 833},
};
static const char *const classes[10] = {"airplane", "automobile", "bird", "cat",  "deer",
                                        "dog",      "frog",       "horse", "ship", "truck"};

static void test_csv(void)
{
    char path[4200];
    cnn_error err = {0};
    size_t size;
    snprintf(path, sizeof path, "%s/confusion.csv", root);
    const char *odd[2] = {"a,b", "say \"hi\""};
    const int two[4] = {3, 1, 0, 4};
    check(cnn_plot_confusion_csv(&confusion[0][0], 10, classes, path, &err) == CNN_STATUS_OK,
          "confusion csv written: %s", err.msg);
    char *text = slurp(path, &size);
    check(strncmp(text, "true/predicted,airplane,automobile,bird,", 40) == 0,
          "confusion.csv header: %.60s", text);
    check(strstr(text, "\ncat,20,10,80,520,70,190,60,30,10,10\n") != NULL, "confusion.csv cat row");
    free(text);
    check(cnn_plot_confusion_csv(two, 2, odd, path, &err) == CNN_STATUS_OK, "csv with odd names");
    text = slurp(path, &size);
    check(strcmp(text, "true/predicted,\"a,b\",\"say \"\"hi\"\"\"\n\"a,b\",3,1\n"
                       "\"say \"\"hi\"\"\",0,4\n") == 0,
          "CSV quoting: %s", text);
    free(text);
}

static void test_bad_metrics(void)
{
    char dir[4200], path[4300];
    const char *dirs[1] = {dir};
    cnn_error err = {0};
    cnn_status st;
    snprintf(dir, sizeof dir, "%s/empty", root);
    write_file(dir, "metrics.csv", "");
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    st = cnn_plot_curves(dirs, NULL, 1, path, NULL, NULL, 0, &err);
    if (st != CNN_STATUS_MISSING_DATA) {
        check(st == CNN_STATUS_FORMAT && strstr(err.msg, path) && strstr(err.msg, "empty"),
              "empty metrics.csv: FORMAT naming the file (found %s: %s)",
              cnn_status_to_string(st), err.msg);
        snprintf(dir, sizeof dir, "%s/header_only", root);
        write_file(dir, "metrics.csv",
                   "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second\n");
        st = cnn_plot_curves(dirs, NULL, 1, path, NULL, NULL, 0, &err);
        check(st == CNN_STATUS_FORMAT && strstr(err.msg, "header_only/metrics.csv") &&
                  strstr(err.msg, "no epochs"),
              "header-only metrics.csv: FORMAT (found %s: %s)", cnn_status_to_string(st), err.msg);
        snprintf(dir, sizeof dir, "%s/no_val_acc", root);
        write_file(dir, "metrics.csv", "epoch,train_loss,train_acc,val_loss,lr\n1,2,0.1,2,0.1\n");
        st = cnn_plot_curves(dirs, NULL, 1, path, NULL, NULL, 0, &err);
        check(st == CNN_STATUS_FORMAT && strstr(err.msg, "'val_acc'"),
              "a missing column is named (found %s: %s)", cnn_status_to_string(st), err.msg);
        snprintf(dir, sizeof dir, "%s/bad_number", root);
        write_file(dir, "metrics.csv", "epoch,train_loss,train_acc,val_loss,val_acc,lr\n"
                                       "1,2,0.1,2,0.1,0.1\n2,2,0.1,x7,0.1,0.1\n");
        st = cnn_plot_curves(dirs, NULL, 1, path, NULL, NULL, 0, &err);
        check(st == CNN_STATUS_FORMAT && strstr(err.msg, "line 3") && strstr(err.msg, "'x7'"),
              "a bad number names line and field (found %s: %s)", cnn_status_to_string(st),
              err.msg);
        snprintf(dir, sizeof dir, "%s/nowhere", root);
        st = cnn_plot_curves(dirs, NULL, 1, path, NULL, NULL, 0, &err);
        check(st == CNN_STATUS_IO && strstr(err.msg, "nowhere/metrics.csv"),
              "missing metrics.csv: IO naming it (found %s: %s)", cnn_status_to_string(st),
              err.msg);
    }
}

static void test_pictures(void)
{
    char dirs[3][4200], prefix[4300], path[4400];
    const char *run_dirs[3] = {dirs[0], dirs[1], dirs[2]};
    const char *labels[3] = {"dropout=0", "dropout=0.3", NULL};
    char written[8192];
    cnn_error err = {0};
    make_runs(dirs);

    snprintf(prefix, sizeof prefix, "%s/study/plot", root);
    cnn_status st = cnn_plot_curves(run_dirs, labels, 3, prefix, "dropout study", written,
                                    sizeof written, &err);
    check(st == CNN_STATUS_OK, "curves of three runs: %s", err.msg);
    printf("curves of three runs wrote:\n%s", written);
    const char *kinds[4] = {"val_loss", "val_acc", "lr", "train_val"};
    for (int k = 0; k < 3; k++) {
        check_png(prefix, kinds[k]);
        snprintf(path, sizeof path, "%s-%s.png\n", prefix, kinds[k]);
        check(strstr(written, path) != NULL, "written lists %s", path);
        snprintf(path, sizeof path, "%s-%s.gp", prefix, kinds[k]);
        check_contains(path, "'dropout=0.3");
        check_contains(path, "'lr=5_it''s (diverged in epoch 3)'");
        check_contains(path, "'dropout study: ");
    }
    snprintf(path, sizeof path, "%s-train_val.png", prefix);
    check(!cnn_path_exists(path), "no train_val picture for three runs");
    snprintf(path, sizeof path, "%s-curves.dat", prefix);
    check_contains(path, "1 2.012345 25.1 1.876543 31.2 0.1\n");
    check_contains(path, "2 1.8 35 NaN 39 0.1\n");
    check_contains(path, "# index 2: lr=5_it's");
    snprintf(path, sizeof path, "%s-val_loss.gp", prefix);
    check_contains(path, "are cut off"); /* the 9000 */
    snprintf(path, sizeof path, "%s-val_loss.gp", prefix);
    check_contains(path, "(1 non-finite left out)");
    snprintf(path, sizeof path, "%s-lr.gp", prefix);
    check_contains(path, "set logscale y");
    snprintf(path, sizeof path, "%s-val_acc.gp", prefix);
    check_contains(path, "'validation accuracy (%)'");

    /* One run: train vs validation too; the legend is the folder's name. */
    snprintf(prefix, sizeof prefix, "%s/one/deeper/plot", root);
    st = cnn_plot_curves(run_dirs, NULL, 1, prefix, NULL, written, sizeof written, &err);
    check(st == CNN_STATUS_OK, "curves of one run: %s", err.msg);
    for (int k = 0; k < 4; k++)
        check_png(prefix, kinds[k]);
    snprintf(path, sizeof path, "%s-train_val.gp", prefix);
    check_contains(path, "set multiplot layout 1,2");
    check_contains(path, "'Training vs validation, run_a'");

    snprintf(prefix, sizeof prefix, "%s/confusion", root);
    st = cnn_plot_confusion(&confusion[0][0], 10, classes, prefix, "lenet5 on the test set", &err);
    check(st == CNN_STATUS_OK, "confusion heat map: %s", err.msg);
    snprintf(path, sizeof path, "%s.png", prefix);
    size_t size;
    char *png = slurp(path, &size);
    check(size > 2048 && memcmp(png, "\x89PNG", 4) == 0, "%s: a PNG over 2 KB (%zu bytes)", path,
          size);
    free(png);
    snprintf(path, sizeof path, "%s.gp", prefix);
    check_contains(path, "'automobile' 1");
    check_contains(path, "'cat  52.0%%' 3");
    snprintf(path, sizeof path, "%s.dat", prefix);
    check_contains(path, "5 3 190 0.190000\n");
}

static void test_missing_gnuplot(void)
{
    char dirs[3][4200], prefix[4300];
    const char *run_dirs[1] = {dirs[0]};
    cnn_error err = {0};
    make_runs(dirs);
    snprintf(prefix, sizeof prefix, "%s/missing/plot", root);
    cnn_status st = cnn_plot_curves(run_dirs, NULL, 1, prefix, NULL, NULL, 0, &err);
    check(st == CNN_STATUS_MISSING_DATA && strstr(err.msg, "apt-get install gnuplot-nox"),
          "no gnuplot: curves give MISSING_DATA and how to install (found %s: %s)",
          cnn_status_to_string(st), err.msg);
    st = cnn_plot_confusion(&confusion[0][0], 10, classes, prefix, NULL, &err);
    check(st == CNN_STATUS_MISSING_DATA && strstr(err.msg, "gnuplot-nox"),
          "no gnuplot: confusion gives MISSING_DATA (found %s: %s)", cnn_status_to_string(st),
          err.msg);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        snprintf(root, sizeof root, "%s", argv[1]);
        mkdir(root, 0755);
    } else {
        snprintf(root, sizeof root, "/tmp/cnnlab-plot.XXXXXX");
        if (!mkdtemp(root)) {
            perror("mkdtemp");
            return 1;
        }
    }
    test_csv();
    test_bad_metrics();
    if (cnn_plot_available()) {
        printf("gnuplot with pngcairo found: drawing the pictures in %s\n", root);
        test_pictures();
    } else {
        printf("gnuplot not found: checking the message only (install gnuplot-nox to draw)\n");
        test_missing_gnuplot();
    }
    /* Always also the path without gnuplot: PATH emptied for a moment. */
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", "/nonexistent-cnnlab-test", 1);
    check(!cnn_plot_available(), "cnn_plot_available is 0 when gnuplot is not on PATH");
    test_missing_gnuplot();
    if (saved) {
        setenv("PATH", saved, 1);
        free(saved);
    }
    if (argc <= 1)
        nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish("test_plot");
}
