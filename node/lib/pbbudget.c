#include "pbbudget.h"

#include <stdint.h>
#include <stdlib.h>

/* Each block carries its size in front so frees can give budget back. */
typedef union {
    size_t size;
    max_align_t align;
} s_head_t;

static void *s_alloc(void *data, size_t size)
{
    pbbudget_t *self = data;
    /* Each block is charged with its header, so a flood of tiny fields
     * cannot cost many times the budget. */
    if (size > SIZE_MAX - sizeof(s_head_t) || sizeof(s_head_t) + size > self->limit - self->used)
        return NULL;
    s_head_t *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = sizeof *h + size;
    self->used += h->size;
    return h + 1;
}

static void s_free(void *data, void *ptr)
{
    pbbudget_t *self = data;
    if (!ptr)
        return;
    s_head_t *h = (s_head_t *)ptr - 1;
    self->used -= h->size;
    free(h);
}

void pbbudget_init(pbbudget_t *self, size_t limit)
{
    self->allocator.alloc = s_alloc;
    self->allocator.free = s_free;
    self->allocator.allocator_data = self;
    self->used = 0;
    self->limit = limit;
}
