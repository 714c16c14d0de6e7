/* The one unit of the program that holds fut's definitions (see main.c). */
#define FUT_IMPLEMENTATION
#include "batch.h"
