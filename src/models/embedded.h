/* embedded.h: the built-in model files, compiled into the library. The table
 * is generated at build time from the .cnn files in models/ by
 * tools/embed_models.sh. */
#ifndef CNN_MODELS_EMBEDDED_H
#define CNN_MODELS_EMBEDDED_H

typedef struct cnn_embedded_model {
    const char *path; /* "models/resnet20.cnn" */
    const char *text; /* the file's text */
} cnn_embedded_model;

/* Each ends with {NULL, NULL}: the model files (models/NAME.cnn) and the training
 * recipes (recipes/NAME.rcp, read by src/train/recipe.c). */
extern const cnn_embedded_model cnn_embedded_models[];
extern const cnn_embedded_model cnn_embedded_recipes[];

#endif
