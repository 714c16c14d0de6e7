/* The C unit holding fut's definitions for main.cpp (see there). */
#define FUT_IMPLEMENTATION
#include "batch.h"
