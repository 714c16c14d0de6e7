/* The unit of each benchmark program that holds fut's definitions: the benchmarks
 * themselves include the headers without FUT_IMPLEMENTATION, as a program's other units
 * would, so what they measure is the inline hot path calling into one implementation
 * unit - the shape users build. */
#define FUT_IMPLEMENTATION
#include "../batch.h"
#include "../workers.h"
