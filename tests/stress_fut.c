#include "testutil.h"
#include "fut.h"
#include <criterion/criterion.h>
Test(stress_placeholder, builds) { cr_assert(1); }
