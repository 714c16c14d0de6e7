#include "testutil.h"
#include "pool.h"
#include <criterion/criterion.h>
Test(placeholder_test_pool, builds) { cr_assert(1); }
