/* cmd_export.c: `cnnlab export RUN_DIR --format safetensors|onnx` writes a
 * run's weights for PyTorch or any ONNX runtime; `cnnlab import
 * FILE.safetensors --model NAME|FILE --out RUN_DIR` makes a run folder from
 * PyTorch weights (docs/export.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/export.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"
#include "text.h"

cnn_status cnn_cmd_export(int argc, char **argv, cnn_error *err)
{
    const char *format = NULL, *out = NULL, *which = "best";
    int force = 0;
    const char *positional[1];
    cli_list words = {positional, 1, 0};
    const cli_flag flags[] = {
        {"--format", CLI_CHOICE, &format, 0, 0, "F", "safetensors (PyTorch's state_dict) or onnx", "safetensors,onnx"},
        {"-o", CLI_STRING, &out, 0, 0, "FILE", "where to write (default RUN_DIR/model.safetensors or RUN_DIR/model.onnx)", NULL},
        {"--weights", CLI_CHOICE, &which, 0, 0, "W", "best (default: the best validation epoch's) or last", "best,last"},
        {"--force", CLI_BOOL, &force, 0, 0, NULL, "replace FILE when it exists", NULL},
    };
    cli_command cmd = {
        .name = "export",
        .usage = "cnnlab export RUN_DIR --format safetensors|onnx [-o FILE] [options]",
        .about = "Writes a run's weights for other tools. safetensors: the tensors under the "
                 "names of PyTorch's state_dict (layers.INDEX.weight, ...; tools/torch_models.py "
                 "builds the matching nn.Module), the model file and normalisation in the "
                 "metadata. onnx: the whole network (opset 13) taking float32 NCHW pixels in "
                 "[0, 1] as `input` (any batch size), normalising them inside the graph and "
                 "giving `logits`; the metadata names the classes.",
        CLI_FLAGS(flags),
        .positional = &words,
        .required = "a run folder (RUN_DIR)",
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    if (!format)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "export: expected --format "
                             "safetensors or --format onnx, found no --format");
    const char *run = positional[0];
    int onnx = strcmp(format, "onnx") == 0;
    char weights[4096], model_file[4096], dest[4096];
    snprintf(weights, sizeof weights, "%s/%s.weights", run, which);
    snprintf(model_file, sizeof model_file, "%s/model.cnn", run);
    snprintf(dest, sizeof dest, "%s", out ? out : "");
    if (!out)
        snprintf(dest, sizeof dest, "%s/model.%s", run, onnx ? "onnx" : "safetensors");
    if (cnn_path_exists(dest) && !force)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s exists: expected a new file "
                             "(use --force to replace it)", dest);
    cnn_checkpoint ck;
    cnn_model *m = NULL;
    if ((st = cnn_checkpoint_read(weights, &ck, err)))
        return st;
    /* the shape of the run's data (config.txt; none: CIFAR-10's) */
    char cfg_path[4200];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.txt", run);
    char *cfg = cnn_file_text_or_null(cfg_path);
    cnn_run_data_settings rd;
    st = cnn_run_data(cfg, cfg_path, &rd, err);
    free(cfg);
    if (!st)
        st = cnn_checkpoint_model_shaped(&ck, cnn_path_exists(model_file) ? model_file : NULL,
                                         &rd.shape, weights, &m, err);
    if (!st) {
        /* the run's classes.txt (docs/data.md), else CIFAR-10's for ten */
        char **names = cnn_cli_class_names(run, m->desc->classes);
        cnn_export_info info = {.norm = &ck.norm, .source = weights,
                                .n_classes = names ? m->desc->classes : 0,
                                .class_names = (const char *const *)names};
        st = onnx ? cnn_export_onnx(m, &info, dest, err)
                  : cnn_export_safetensors(m, &info, dest, err);
        cnn_cli_class_names_free(names, m->desc->classes);
    }
    if (!st)
        printf("wrote %s (%s, %zu parameters, from %s)\n", dest, m->desc->name, m->param_count,
               weights);
    cnn_model_destroy(m);
    cnn_checkpoint_free(&ck);
    return st;
}

/* --mean and --std: c numbers separated by commas, "0.49,0.48,0.45" */
static cnn_status parse_triple(const char *flag, const char *s, int c, float *v, cnn_error *err)
{
    const char *p = s;
    for (int i = 0; i < c; i++) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || (*end != (i + 1 < c ? ',' : '\0')) || !(x > -1e6 && x < 1e6))
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: expected %d numbers "
                                 "separated by commas, found '%s'", flag, c, s);
        v[i] = (float)x;
        p = end + 1;
    }
    return CNN_STATUS_OK;
}

cnn_status cnn_cmd_import(int argc, char **argv, cnn_error *err)
{
    const char *model = NULL, *out = NULL, *vars = NULL, *mean = NULL, *sd = NULL;
    const char *positional[1];
    cli_list words = {positional, 1, 0};
    const cli_flag flags[] = {
        {"--model", CLI_STRING, &model, 0, 0, "NAME|FILE", "the built-in model or model file the weights are for", NULL},
        {"--out", CLI_STRING, &out, 0, 0, "RUN_DIR", "the run folder to make (must not exist or be empty)", NULL},
        {"--var", CLI_STRING, &vars, 0, 0, "'NAME=N ...'", "set variables the model file declares", NULL},
        {"--mean", CLI_STRING, &mean, 0, 0, "R,G,B", "the input normalisation's mean (0-1 pixels) when the file's metadata has none", NULL},
        {"--std", CLI_STRING, &sd, 0, 0, "R,G,B", "its standard deviation", NULL},
    };
    cli_command cmd = {
        .name = "import",
        .usage = "cnnlab import FILE.safetensors --model NAME|FILE --out RUN_DIR [options]",
        .about = "Makes a run folder (best.weights, last.weights, model.cnn) from weights saved "
                 "in PyTorch under the names `cnnlab export` uses (layers.INDEX.weight, ...), so "
                 "that `cnnlab test` and `cnnlab export` take it. Every tensor must be there "
                 "with the model's shape, float32 and finite. The model options (--norm, ...) "
                 "and the input normalisation come from the file's metadata (options, mean, "
                 "std) as `cnnlab export` writes it; --mean and --std give the normalisation "
                 "of a file without.",
        CLI_FLAGS(flags),
        .positional = &words,
        .required = "a safetensors file (FILE.safetensors)",
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    if (!model || !out)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "import: expected --model and "
                             "--out, found %s", model ? "no --out" : "no --model");
    if (cnn_dir_nonempty(out))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--out %s: expected a new or empty "
                             "folder, found one with files (nothing is overwritten)", out);
    /* the model options the weights were trained with, when cnnlab exported them */
    char options_text[256];
    cnn_model_options opt;
    const cnn_model_desc *desc;
    cnn_model *m = NULL;
    if ((st = cnn_safetensors_meta(positional[0], "options", options_text, sizeof options_text,
                                   err)))
        return st;
    if ((st = cnn_model_options_parse(options_text, &opt, err))) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return cnn_error_set(err, st, "%s: metadata: %s", positional[0], why);
    }
    if ((st = cnn_model_load(model, vars, &desc, err)) ||
        (st = cnn_model_create(desc, &opt, &m, err)))
        return st;
    cnn_norm norm;
    int has_norm = 0;
    if ((st = cnn_import_safetensors(positional[0], m, &norm, &has_norm, err)))
        goto done;
    if (mean || sd) {
        if (!mean || !sd) {
            st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "import: expected --mean and "
                               "--std together, found only %s", mean ? "--mean" : "--std");
            goto done;
        }
        if ((st = parse_triple("--mean", mean, desc->in_c, norm.mean, err)) ||
            (st = parse_triple("--std", sd, desc->in_c, norm.std, err)))
            goto done;
        has_norm = 1;
    }
    if (!has_norm) {
        st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: expected the input "
                           "normalisation in the metadata (mean, std) or as --mean and --std, "
                           "found neither", positional[0]);
        goto done;
    }
    char path[4096];
    if ((st = cnn_mkdir_p(out, err)))
        goto done;
    const cnn_model_file *file = cnn_model_file_of(desc);
    int builtin = cnn_model_find(desc->name) == desc;
    snprintf(path, sizeof path, "%s/model.cnn", out);
    if (file && !builtin && (st = cnn_file_write_atomic(path, file->text, strlen(file->text), err)))
        goto done;
    snprintf(path, sizeof path, "%s/last.weights", out);
    if ((st = cnn_checkpoint_save(path, m, &norm, err)))
        goto done;
    snprintf(path, sizeof path, "%s/best.weights", out);
    if ((st = cnn_checkpoint_save(path, m, &norm, err)))
        goto done;
    printf("wrote %s/best.weights and last.weights (%s, %zu parameters, from %s)\n", out,
           desc->name, m->param_count, positional[0]);
done:
    cnn_model_destroy(m);
    return st;
}
