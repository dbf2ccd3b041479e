#!/bin/sh
# check_doc_paths.sh DOC...: every repository path a document names exists.
# A path is a word that starts with one of the tree's top folders (src/,
# include/, tests/, tools/, docs/, models/, recipes/, bench/, scripts/,
# fuzz/) or, for a source file, with a folder of src/ (net/plan.c); NAME and
# * in a word make it a pattern that must match something. Prints each
# missing path with its document and line; exits 1 if any. `make test` runs
# it on docs/architecture.md.
cd "$(dirname "$0")/.." || exit 2
status=0
for doc in "$@"; do
    words=$(grep -noE '(^|[^A-Za-z0-9_./~$-])(src|include|tests|tools|docs|models|recipes|bench|scripts|fuzz|core|cli|net|data|dataset|optim|train|study|plot|layers|ops)/[A-Za-z0-9_.*/-]*[A-Za-z0-9_*/]' "$doc") || continue
    while IFS= read -r hit; do
        line=${hit%%:*}
        path=$(printf '%s' "${hit#*:}" | sed -E 's/^[^A-Za-z]//')
        case $path in
        src/* | include/* | tests/* | tools/* | docs/* | models/* | recipes/* | bench/* | \
        scripts/* | fuzz/*) ;;
        *.c | *.h) path="src/$path" ;;
        *) continue ;; # "data/" alone is the data folder, not a source folder
        esac
        pattern=$(printf '%s' "$path" | sed 's/NAME/*/g')
        # shellcheck disable=SC2086 # the pattern is meant to glob
        if ! ls -d $pattern >/dev/null 2>&1; then
            echo "$doc:$line: names $path, which does not exist"
            status=1
        fi
    done <<EOF_WORDS
$words
EOF_WORDS
done
exit $status
