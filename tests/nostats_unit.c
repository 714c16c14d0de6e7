/* A translation unit of test_stats built with FUT_NO_STATS: its updates must compile to
 * nothing, so a block it updates stays at zero. (stats.h's functions are static inline,
 * so this unit and test_stats.c each keep their own setting.) */
#define FUT_NO_STATS
#include "testutil.h"
#include "stats.h"

#ifndef FUT_NO_STATS
#error "this unit exists to build stats.h with FUT_NO_STATS"
#endif

int nostats_probe(fut_stats *st);

int nostats_probe(fut_stats *st)
{
    for (int i = 0; i < FUT_STAT_COUNT; i++) {
        fut_stats_inc(st, (fut_stat)i);
        fut_stats_add(st, (fut_stat)i, 1000);
    }
    for (uint64_t ns = 0; ns < 100000; ns += 997)
        fut_stats_time(st, ns);
    return 0;
}
