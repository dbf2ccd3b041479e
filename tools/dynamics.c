/* dynamics.c: `cnnlab train --model resnet20` with the He recipe, printing the
 * loss of every step, for a step-by-step comparison with
 * tools/torch_train_resnet20.py --same-as CNNLAB --print-steps on the same
 * batches. Not built by the Makefile; by hand, against a built library:
 *
 *   cc -O2 -std=c11 -fopenmp -Iinclude tools/dynamics.c build-dyn/libcnnlab.a \
 *      -ldnnl -llapacke -lm -o build-dyn/dynamics
 *   build-dyn/dynamics OUT_DIR [key=value ...]
 *
 * keys (defaults as the comparison): data=data/cifar-10-batches-bin subset=1024 epochs=2
 * seed=1 threads=2 conv=direct lr=0.1 momentum=0.9 wd=1e-4 augment=crop,flip
 * milestones=6,9 batch=128. Output: "step S loss L" per step (S from 1, the
 * global step), then "epoch E train_loss ... val_acc ..." per epoch.
 *
 * What it showed (2026-12-05, seed 1, subset 1040 = 8 batches + a tail of 16,
 * conv direct): with lr=0 (weights fixed) all 27 steps of 3 epochs agree with
 * PyTorch to 1e-6 and so do the val losses (data, crops, flips, shuffles, tail
 * batch, labels, batch-norm running statistics); with lr 0.001 and 0.01
 * (momentum 0.9, wd 1e-4, crop+flip) cnnlab and PyTorch part no faster than
 * cnnlab with 2 threads and with 1 thread part from each other (1e-6 at step
 * 4, 1e-4 by step 14 at lr 0.001); conv=auto and conv=winograd likewise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"

static void on_step(void *user, int epoch, int step, int steps, double loss)
{
    long *global = user;
    printf("step %ld loss %.6f\n", ++*global, loss);
    fflush(stdout);
}

static void on_epoch(void *user, const cnn_epoch_stats *s)
{
    printf("epoch %d train_loss %.6f train_acc %.4f val_loss %.6f val_acc %.4f lr %g\n", s->epoch,
           s->train_loss, 100 * s->train_acc, s->val_loss, 100 * s->val_acc, s->lr);
    fflush(stdout);
}

static void on_info(void *user, const char *line) { fprintf(stderr, "%s\n", line); }

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT_DIR [key=value ...]\n", argv[0]);
        return 2;
    }
    cnn_train_config c;
    cnn_train_config_defaults(&c);
    c.model = "resnet20";
    c.out_dir = argv[1];
    c.data_dir = "data/cifar-10-batches-bin";
    c.subset = 1024;
    c.epochs = 2;
    c.threads = 2;
    c.optim.lr = 0.1f;
    c.optim.momentum = 0.9f;
    c.optim.weight_decay = 1e-4f;
    c.sched.kind = CNN_SCHED_MULTISTEP;
    c.sched.gamma = 0.1f;
    c.sched.milestone_count = 2;
    c.sched.milestones[0] = 6;
    c.sched.milestones[1] = 9;
    c.model_options.init = CNN_INIT_KAIMING;
    c.augment.crop = c.augment.flip = 1;
    c.exec.conv = CNN_CONV_DIRECT;
    cnn_error err;
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "expected key=value, found %s\n", argv[i]);
            return 2;
        }
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "data"))
            c.data_dir = v;
        else if (!strcmp(k, "subset"))
            c.subset = atoi(v);
        else if (!strcmp(k, "epochs"))
            c.epochs = atoi(v);
        else if (!strcmp(k, "seed"))
            c.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "threads"))
            c.threads = atoi(v);
        else if (!strcmp(k, "batch"))
            c.batch_size = atoi(v);
        else if (!strcmp(k, "lr"))
            c.optim.lr = strtof(v, NULL);
        else if (!strcmp(k, "momentum"))
            c.optim.momentum = strtof(v, NULL);
        else if (!strcmp(k, "wd"))
            c.optim.weight_decay = strtof(v, NULL);
        else if (!strcmp(k, "conv") && cnn_conv_algo_parse(v, &c.exec.conv))
            ;
        else if (!strcmp(k, "precision") && cnn_precision_parse(v, &c.exec.precision))
            ;
        else if (!strcmp(k, "augment")) {
            if (cnn_augment_parse(v, &c.augment, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 2;
            }
        } else if (!strcmp(k, "milestones")) {
            c.sched.milestone_count = 0;
            for (char *p = (char *)v; *p && c.sched.milestone_count < CNN_SCHED_MAX_MILESTONES;) {
                c.sched.milestones[c.sched.milestone_count++] = (int)strtol(p, &p, 10);
                if (*p == ',')
                    p++;
            }
        } else {
            fprintf(stderr, "unknown or bad key %s=%s\n", k, v);
            return 2;
        }
    }
    long global = 0;
    cnn_train_hooks h = {on_info, on_step, on_epoch, &global};
    if (cnn_train(&c, &h, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}
