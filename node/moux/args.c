/* Argument parsing shared by several commands. */
#include "cli.h"

#include <getopt.h>

int cli_file_json_args(int argc, char **argv, const char **file, int *as_json)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    int c;
    *as_json = 0;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'j')
            return -1;
        *as_json = 1;
    }
    if (optind != argc - 1)
        return -1;
    *file = argv[optind];
    return 0;
}
