/* The two parties' signatures on an MOU, as `moux mou verify` and
 * `moux mou activate` read and judge them. */
#include "cli.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

int cli_mou_sigs(const mou_t *m, const char *file, const char **sigs, size_t n_sigs,
                 const char *dir, cli_sig_state_t st[2], int pinned[2], char own[AGENCY_MAX + 1])
{
    char err[1024], defpath[2][PATH_MAX_MOUX];
    const char *files[CLI_MOU_MAX_SIGS];
    unsigned char pins[2][32];
    const unsigned char *pinp[2] = {NULL, NULL};
    memset(st, 0, 2 * sizeof *st);
    for (int i = 0; i < 2; i++)
        str_copy(st[i].why, sizeof st[i].why, "no signature (no --sig file names this party)");
    pinned[0] = pinned[1] = 0;
    if (dir) {
        if (mou_node_pins(dir, m, pins, pinned, own, err, sizeof err) != 0)
            return cli_fail("%s", err);
        for (int i = 0; i < 2; i++)
            pinp[i] = pinned[i] ? pins[i] : NULL;
    }
    for (size_t k = 0; k < n_sigs && k < CLI_MOU_MAX_SIGS; k++)
        files[k] = sigs[k];
    if (n_sigs == 0) { /* FILE.AGENCY.sig for each party */
        for (int i = 0; i < 2; i++) {
            if (mou_sig_path(file, mou_party(m, i), defpath[i], sizeof defpath[i]) != 0)
                return cli_fail("%s: path too long", file);
            files[n_sigs++] = defpath[i];
        }
    }
    for (size_t k = 0; k < n_sigs; k++) {
        char line[MOU_SIG_LINE_MAX + 1], why[512];
        size_t len = 0;
        int party = -1, unpinned = 0;
        int r = mou_sig_read(files[k], line, sizeof line, &len, err, sizeof err);
        if (r == 0 && mou_verify_sig(m, line, len, pinp, &party, why, sizeof why) == 0) {
            unpinned = dir && !pinned[party];
            if (unpinned)
                snprintf(why, sizeof why, "the signature is valid for this MOU, but node %s has "
                         "no pinned root for %s (%s)", dir, mou_party(m, party),
                         strcmp(own, mou_party(m, party)) == 0 ? "its keys/root.pub is missing"
                                                               : "not a partner");
            else
                why[0] = '\0';
        } else if (r != 0) {
            str_copy(why, sizeof why, err);
        }
        /* Which party the file is for: the one its line names, else the
         * default file name's party. */
        if (party < 0)
            for (int i = 0; i < 2; i++)
                if (files[k] == defpath[i])
                    party = i;
        if (party < 0) { /* a --sig file that names no party (or cannot be read) */
            fprintf(stderr, "moux: %s: %s\n", files[k], r == 0 ? why : err);
            continue;
        }
        cli_sig_state_t *s = &st[party];
        if (s->valid)
            continue; /* a second file for a party already validly signed */
        s->present = r == 0;
        s->valid = r == 0 && why[0] == '\0';
        s->unpinned = unpinned;
        str_copy(s->path, sizeof s->path, files[k]);
        s->file = s->path;
        if (r == 0)
            memcpy(s->line, line, len + 1);
        str_copy(s->why, sizeof s->why, r == 1 ? "no signature file" : why);
    }
    return 0;
}
