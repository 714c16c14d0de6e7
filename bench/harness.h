/* The benchmark harness, shared by the C benchmarks and the C++ peers so that every
 * implementation is measured the same way: calibrate the iteration count to ~20 ms a
 * run, one warm-up run, then BENCH_RUNS timed runs; report the median, min and max of
 * ns per operation. An op times itself (so per-run setup such as starting a thread
 * stays out of the figure) and returns the elapsed ns for `iters` operations.
 *
 * Output: a JSON object per line, {"op":..,"impl":..,"ns":median,"min":..,"max":..,
 * "runs":..,"threads":..}, which bench/run turns into the table. */
#ifndef FUT_BENCH_HARNESS_H
#define FUT_BENCH_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BENCH_RUNS
#define BENCH_RUNS 11
#endif
#define BENCH_TARGET_NS 20000000.0

typedef uint64_t (*bench_fn)(void *ctx, uint64_t iters);

static inline uint64_t bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keeps a result alive so the compiler cannot drop the work that made it. */
static volatile uint64_t bench_sink;
static inline void bench_keep(uint64_t v) { bench_sink = bench_sink + v; }

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench_stat {
    double median, min, max;
    int runs;
} bench_stat;

static inline bench_stat bench_measure(bench_fn fn, void *ctx, uint64_t max_iters)
{
    uint64_t iters = 64;
    for (;;) { /* calibrate: grow until one run takes ~1/8 of the target */
        uint64_t ns = fn(ctx, iters);
        if (ns * 8 >= (uint64_t)BENCH_TARGET_NS || iters >= max_iters) {
            double scaled = (double)iters * BENCH_TARGET_NS / (double)(ns ? ns : 1);
            iters = scaled < 16 ? 16 : (uint64_t)scaled;
            if (iters > max_iters)
                iters = max_iters;
            break;
        }
        iters *= 4;
    }
    fn(ctx, iters); /* warm-up */
    double v[BENCH_RUNS];
    for (int r = 0; r < BENCH_RUNS; r++)
        v[r] = (double)fn(ctx, iters) / (double)iters;
    qsort(v, BENCH_RUNS, sizeof v[0], bench_cmp);
    bench_stat s;
    s.median = v[BENCH_RUNS / 2];
    s.min = v[0];
    s.max = v[BENCH_RUNS - 1];
    s.runs = BENCH_RUNS;
    return s;
}

static inline void bench_emit(const char *op, const char *impl, bench_stat s, int threads)
{
    printf("{\"op\":\"%s\",\"impl\":\"%s\",\"ns\":%.3f,\"min\":%.3f,\"max\":%.3f,\"runs\":%d,\"threads\":%d}\n",
           op, impl, s.median, s.min, s.max, s.runs, threads);
    fflush(stdout);
}

/* Command line shared by every bench program: --threads N, --only OP[,OP...]. */
typedef struct bench_args {
    int threads;
    const char *only;
} bench_args;

static inline bench_args bench_parse(int argc, char **argv)
{
    bench_args a;
    a.threads = 2;
    a.only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            a.threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            a.only = argv[++i];
    }
    if (a.threads < 1)
        a.threads = 1;
    return a;
}

static inline int bench_wanted(const bench_args *a, const char *op)
{
    if (a->only == NULL)
        return 1;
    size_t n = strlen(op);
    for (const char *p = a->only; *p != '\0';) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, op, n) == 0)
            return 1;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

#endif
