#include "tlp.h"

#include <strings.h>

static const char *s_names[TLP_COUNT] = {"clear", "green", "amber", "amber+strict", "red"};

int tlp_parse(const char *text, tlp_t *out)
{
    if (strncasecmp(text, "tlp:", 4) == 0)
        text += 4;
    for (int i = 0; i < TLP_COUNT; i++)
        if (strcasecmp(text, s_names[i]) == 0) {
            *out = (tlp_t)i;
            return 0;
        }
    return -1;
}

const char *tlp_name(tlp_t tlp)
{
    return (unsigned)tlp < TLP_COUNT ? s_names[tlp] : "invalid";
}
