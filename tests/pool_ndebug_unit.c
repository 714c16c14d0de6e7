/* A unit of test_pool built with NDEBUG (release: no pool checks), while test_pool.c is
 * built without it: one pool used from both must keep working. Acquire here, release
 * there, and the other way round. */
#ifndef NDEBUG
#define NDEBUG
#endif
#include "testutil.h"
#include "pool.h"

void *ndebug_acquire(fut_pool *p);
int ndebug_release(fut_pool *p, void *obj);

void *ndebug_acquire(fut_pool *p) { return fut_pool_acquire(p); }
int ndebug_release(fut_pool *p, void *obj) { return fut_pool_release(p, obj); }
