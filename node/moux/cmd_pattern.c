/* moux pattern check: validates a STIX 2.1 pattern and shows what the node
 * would index from it. Needs no node directory: the answer depends on the
 * pattern alone, so it works before a node exists. */
#include "cli.h"
#include "stix_pattern.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declared here too so this file stands alone until cli.h lists it. */
int cmd_pattern(int argc, char **argv);

#define S_USAGE "usage: moux pattern check PATTERN|- [--json]"
#define S_SHOW_WIDTH 76 /* columns of pattern shown above the caret */

/* Reads a pattern from stdin; one byte more than the limit is enough for the
 * parser to refuse it as too long. NULL on a read error. */
static char *s_read_stdin(void)
{
    char *buf = malloc(STIX_PATTERN_MAX_LEN + 2);
    if (!buf)
        return NULL;
    size_t n = fread(buf, 1, STIX_PATTERN_MAX_LEN + 1, stdin);
    if (ferror(stdin)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Prints text with control characters (a literal may hold a newline) as \xNN
 * so that each observable stays on its own line. */
static void s_put_escaped(const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            printf("\\x%02x", *c);
        else
            putchar(*c);
    }
}

static int s_is_cont(char c) { return ((unsigned char)c & 0xc0) == 0x80; }

/* The line of the pattern holding pos, cut to a window around pos if long,
 * and a caret under pos. Columns count characters, not bytes; tabs are
 * copied into the caret line so it lines up under any tab width. */
static void s_print_caret(const char *pattern, size_t pos)
{
    size_t line = pos, end = pos;
    while (line > 0 && pattern[line - 1] != '\n' && pattern[line - 1] != '\r')
        line--;
    while (pattern[end] && pattern[end] != '\n' && pattern[end] != '\r')
        end++;
    size_t from = line, to = end;
    if (pos - from > S_SHOW_WIDTH / 2)
        from = pos - S_SHOW_WIDTH / 2;
    while (from > line && s_is_cont(pattern[from]))
        from--;
    if (to - from > S_SHOW_WIDTH)
        to = from + S_SHOW_WIDTH;
    while (to < end && s_is_cont(pattern[to]))
        to++;
    const char *pre = from > line ? "..." : "";
    printf("  %s", pre);
    for (size_t i = from; i < to; i++)
        putchar((unsigned char)pattern[i] < 0x20 && pattern[i] != '\t' ? '?' : pattern[i]);
    printf("%s\n  %s", to < end ? "..." : "", from > line ? "   " : "");
    for (size_t i = from; i < pos; i++)
        if (!s_is_cont(pattern[i]))
            putchar(pattern[i] == '\t' ? '\t' : ' ');
    printf("^\n");
}

static void s_print_text(const char *pattern, const stix_pattern_result_t *r)
{
    if (!r->valid) {
        printf("invalid: %s\n", r->error);
        s_print_caret(pattern, r->error_pos);
        return;
    }
    printf("valid\n");
    for (size_t i = 0; i < r->observable_count; i++) {
        printf("%s\t", r->observables[i].type);
        s_put_escaped(r->observables[i].value);
        putchar('\n');
    }
}

static json_t *s_result_json(const stix_pattern_result_t *r)
{
    if (!r->valid)
        return json_pack("{s:b, s:I, s:s}", "valid", 0, "position", (json_int_t)r->error_pos,
                         "error", r->error);
    json_t *obs = json_array();
    for (size_t i = 0; i < r->observable_count; i++)
        json_array_append_new(obs, json_pack("{s:s, s:s}", "type", r->observables[i].type,
                                             "value", r->observables[i].value));
    return json_pack("{s:b, s:o, s:I, s:I, s:I}", "valid", 1, "observables", obs,
                     "observation_expressions", (json_int_t)r->observation_count,
                     "comparisons", (json_int_t)r->comparison_count, "qualifiers",
                     (json_int_t)r->qualifier_count);
}

static int s_print_json(const stix_pattern_result_t *r)
{
    json_t *o = s_result_json(r);
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!line)
        return cli_fail("pattern: cannot encode the result as JSON");
    printf("%s\n", line);
    free(line);
    return 0;
}

/* Exit status: 0 valid, 1 invalid (or the answer could not be written), 2
 * usage. */
int cmd_pattern(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': as_json = 1; break;
        case 'h': printf("%s\n", S_USAGE); return 0;
        default: cli_fail(S_USAGE); return 2;
        }
    }
    if (argc - optind != 2 || strcmp(argv[optind], "check") != 0) {
        cli_fail(S_USAGE);
        return 2;
    }
    const char *arg = argv[optind + 1];
    char *owned = NULL;
    if (strcmp(arg, "-") == 0 && !(arg = owned = s_read_stdin()))
        return cli_fail("pattern: cannot read standard input");
    stix_pattern_result_t r;
    int rc = stix_pattern_check(arg, &r) == 0 ? 0 : 1;
    if (as_json) {
        if (s_print_json(&r) != 0)
            rc = 1;
    } else {
        s_print_text(arg, &r);
    }
    stix_pattern_result_free(&r);
    free(owned);
    return rc;
}
