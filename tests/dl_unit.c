/* A shared module that holds its own copy of fut.h with the default state cache; test_cache
 * loads it, has a thread fill that copy's cache, unloads it, and lets the thread exit. */
#define FUT_STATIC /* this module keeps its own private copy of fut (see fut.h, Linkage) */
#include "fut.h"

int dl_unit_churn(void);

int dl_unit_churn(void)
{
    int sum = 0;
    for (int i = 0; i < 8; i++) {
        fut_promise p;
        fut_future f;
        if (fut_promise_new(&p, &f) != 0)
            return -1;
        fut_promise_set(&p, fut_i64(i));
        fut_result r = fut_error(EINVAL);
        if (fut_try_get(&f, &r) != 0)
            return -1;
        sum += (int)r.value.i64;
    }
    return sum; /* 28; the thread's cache now holds a state */
}
