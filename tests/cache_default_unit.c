/* A unit of test_cache with the default allocator: what FUT_STATE_CACHE is when the user
 * sets neither it nor FUT_MALLOC (16, or 0 under AddressSanitizer). */
#include "fut.h"

int cache_default_size(void);

int cache_default_size(void) { return FUT_STATE_CACHE; }
