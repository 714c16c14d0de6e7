/* Linked into the test programs of ThreadSanitizer builds only.
 *
 * Criterion's sandbox (boxfort) places its shared arena at a random fixed address in
 * [0x2000_0000_0000, 0x6000_0000_0000), drawn with rand_r(), and gives up after 10
 * tries. ThreadSanitizer reserves nearly all of that range for its shadow memory, so
 * Criterion usually aborts with "Could not initialize inheritable arena" (Criterion
 * issue #274, open upstream). The only free application range there is
 * [0x5500_0000_0000, 0x5680_0000_0000); this rand_r, which the executable exports and
 * libcriterion therefore binds to, steers the draws into it, 64 GiB apart, so at most
 * one try can meet the program's own mapping. Nothing else in the tests calls rand_r. */
#include <stdatomic.h>

int rand_r(unsigned *seed);

int rand_r(unsigned *seed)
{
    static _Atomic unsigned draw;
    (void)seed;
    unsigned k = atomic_fetch_add_explicit(&draw, 1, memory_order_relaxed) % 0x18u;
    return (int)(0x350000u + 0x1000u * k); /* boxfort: base = 0x2000_0000_0000 + r << 24 */
}
