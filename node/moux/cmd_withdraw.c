/* moux withdraw: revoke an indicator this agency published. The revocation
 * is a new version of the item, final everywhere, and reaches every partner
 * that may have it, also one that is down now. */
#include "cli.h"
#include "indicator.h"

#include <getopt.h>
#include <stdio.h>

int cmd_withdraw(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"id", required_argument, 0, 'i'},
                                         {"type", required_argument, 0, 't'},
                                         {"value", required_argument, 0, 'v'},
                                         {0, 0, 0, 0}};
    static const char *usage = "usage: moux withdraw -d DIR (--id ID | --type TYPE --value VALUE)";
    const char *dir_opt = NULL, *id = NULL, *type = NULL, *value = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'i': id = optarg; break;
        case 't': type = optarg; break;
        case 'v': value = optarg; break;
        default: return cli_fail("%s", usage);
        }
    }
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 1;
    if (optind != argc || (!id == !(type && value)) || (id && (type || value)))
        return cli_fail("%s", usage);
    if (id && !ind_id_valid(id))
        return cli_fail("--id: \"%s\" is not an indicator id (indicator--UUID)", id);
    char norm[IND_VALUE_MAX + 1];
    ind_type_t t;
    if (type) { /* look the value up as it is stored */
        const char *why = NULL;
        if (ind_type_parse(type, &t) != 0)
            return cli_fail("--type: unknown indicator type \"%s\"", type);
        if (ind_normalise(t, value, norm, sizeof norm, &why) != 0)
            return cli_fail("--value: not a valid %s: %s", ind_type_name(t), why);
        type = ind_type_name(t);
        value = norm;
    }
    json_t *req = id ? json_pack("{s:s, s:s}", "cmd", "withdraw", "id", id)
                     : json_pack("{s:s, s:s, s:s}", "cmd", "withdraw", "type", type, "value", value);
    json_t *reply = cli_call(dir, req, 10000);
    json_decref(req);
    if (!reply)
        return 1;
    printf("%s withdrawn\n", json_string_value(json_object_get(reply, "id")));
    json_decref(reply);
    return 0;
}
