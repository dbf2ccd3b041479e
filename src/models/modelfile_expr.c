/* modelfile_expr.c: the integer expressions of model files.
 *
 *   expr  := or
 *   or    := and ('||' and)*          and := cmp ('&&' cmp)*
 *   cmp   := sum (('=='|'!='|'<'|'<='|'>'|'>=') sum)?
 *   sum   := prod (('+'|'-') prod)*   prod := unary (('*'|'/'|'%') unary)*
 *   unary := ('-'|'!') unary | INTEGER | '$' NAME | '(' expr ')'
 *
 * C's precedence and meaning (integer division truncates; comparisons and
 * logic give 0 or 1), on 64-bit integers; results beyond +-2^40 and division
 * by zero are errors. The first error stops the evaluation and names its column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelfile.h"

#define LIMIT (1L << 40)

typedef struct ex {
    const mf_file *f;
    const mf_line *l;
    int col;         /* column of s[0] */
    const char *s, *p;
    mf_lookup_fn lookup;
    void *ctx;
    cnn_status st;
    int depth; /* of parentheses and unary operators */
} ex;

static void skip(ex *e)
{
    while (*e->p == ' ' || *e->p == '\t')
        e->p++;
}

static int at(ex *e, const char *op)
{
    skip(e);
    size_t n = strlen(op);
    if (strncmp(e->p, op, n) != 0)
        return 0;
    /* '<' is not the start of '<=', '=' alone is not '==' */
    if (n == 1 && (op[0] == '<' || op[0] == '>' || op[0] == '!') && e->p[1] == '=')
        return 0;
    e->p += n;
    return 1;
}

static long fail(ex *e, const char *where, const char *fmt, const char *arg)
{
    if (!e->st) {
        char msg[256];
        snprintf(msg, sizeof msg, fmt, arg);
        e->st = mf_fail(e->f, e->l, e->col + (int)(where - e->s), "%s", msg);
    }
    return 0;
}

static const char *found(const char *p)
{
    return *p ? p : "the end of the expression";
}

/* a op b for op '*', '+' or '-', computed only once the result is known to lie
 * within +-LIMIT (operands within +-LIMIT: the double bound is exact enough,
 * and the product of two such operands is never formed in a long first). */
static long checked(ex *e, const char *where, char op, long a, long b)
{
    double v = op == '*' ? (double)a * (double)b : op == '+' ? (double)a + (double)b
                                                             : (double)a - (double)b;
    if (e->st || v > (double)LIMIT || v < -(double)LIMIT)
        return fail(e, where, "expected values within +-2^40, found an overflow in '%s'", e->s);
    return op == '*' ? a * b : op == '+' ? a + b : a - b;
}

static long expr_or(ex *e);
static long unary_inner(ex *e, const char *start);

static long unary(ex *e)
{
    skip(e);
    const char *start = e->p;
    if (e->st)
        return 0;
    if (e->depth > 200)
        return fail(e, start, "expected at most 200 nested parentheses or signs, found more in "
                    "'%s'", e->s);
    e->depth++;
    long v = unary_inner(e, start);
    e->depth--;
    return v;
}

static long unary_inner(ex *e, const char *start)
{
    if (at(e, "-"))
        return -unary(e);
    if (at(e, "!"))
        return !unary(e);
    if (at(e, "(")) {
        long v = expr_or(e);
        if (!at(e, ")"))
            return fail(e, e->p, "expected ')', found '%s'", found(e->p));
        return v;
    }
    if (*e->p >= '0' && *e->p <= '9') {
        long v = 0;
        while (*e->p >= '0' && *e->p <= '9') {
            v = v * 10 + (*e->p++ - '0');
            if (v > LIMIT)
                return fail(e, start, "expected a number within 2^40, found '%s'", start);
        }
        if ((*e->p >= 'a' && *e->p <= 'z') || (*e->p >= 'A' && *e->p <= 'Z') || *e->p == '.')
            return fail(e, start, "expected an integer, found '%s'", start);
        return v;
    }
    if (*e->p == '$') {
        const char *name = ++e->p;
        while (mf_is_ident(name, (size_t)(e->p - name) + 1))
            e->p++;
        size_t n = (size_t)(e->p - name);
        if (n == 0)
            return fail(e, start, "expected a variable name after '$', found '%s'", start);
        char *what = malloc(n + 2); /* "$name" */
        if (!what)
            return fail(e, start, "no memory to evaluate '%s'", start);
        what[0] = '$';
        memcpy(what + 1, name, n);
        what[n + 1] = 0;
        long v;
        if (!e->lookup(e->ctx, what + 1, &v)) {
            fail(e, start, "expected a variable set before this line (a block parameter or NAME "
                 "= VALUE), found unknown '%s'", what);
            free(what);
            return 0;
        }
        free(what);
        if (v > LIMIT || v < -LIMIT)
            return fail(e, start, "expected values within +-2^40, found '%s' beyond them", start);
        return v;
    }
    return fail(e, start, "expected a number, $variable or '(', found '%s'", found(start));
}

static long prod(ex *e)
{
    long v = unary(e);
    for (;;) {
        const char *op = (skip(e), e->p);
        if (at(e, "*")) {
            long r = unary(e);
            v = checked(e, op, '*', v, r);
        } else if (at(e, "/") || at(e, "%")) {
            long r = unary(e);
            if (r == 0)
                return fail(e, op, "expected a non-zero divisor, found '%s' dividing by 0", e->s);
            v = *op == '/' ? v / r : v % r;
        } else {
            return v;
        }
    }
}

static long sum(ex *e)
{
    long v = prod(e);
    for (;;) {
        const char *op = (skip(e), e->p);
        if (at(e, "+")) {
            long r = prod(e);
            v = checked(e, op, '+', v, r);
        } else if (at(e, "-")) {
            long r = prod(e);
            v = checked(e, op, '-', v, r);
        } else {
            return v;
        }
    }
}

static long cmp(ex *e)
{
    long v = sum(e);
    if (at(e, "=="))
        return v == sum(e);
    if (at(e, "!="))
        return v != sum(e);
    if (at(e, "<="))
        return v <= sum(e);
    if (at(e, ">="))
        return v >= sum(e);
    if (at(e, "<"))
        return v < sum(e);
    if (at(e, ">"))
        return v > sum(e);
    return v;
}

static long expr_and(ex *e)
{
    long v = cmp(e);
    while (at(e, "&&")) {
        long r = cmp(e);
        v = v && r;
    }
    return v;
}

static long expr_or(ex *e)
{
    long v = expr_and(e);
    while (at(e, "||")) {
        long r = expr_and(e);
        v = v || r;
    }
    return v;
}

cnn_status mf_eval(const mf_file *f, const mf_line *l, int col, const char *s, mf_lookup_fn lookup,
                   void *ctx, long *out)
{
    ex e = {f, l, col, s, s, lookup, ctx, CNN_STATUS_OK, 0};
    long v = expr_or(&e);
    skip(&e);
    if (!e.st && *e.p)
        fail(&e, e.p, "expected an operator or the end of the expression, found '%s'", e.p);
    *out = v;
    return e.st;
}
