#ifndef RAMPART_MALLOC_COUNTER_H
#define RAMPART_MALLOC_COUNTER_H

#include <stdbool.h>

/// Whether this build counts allocations (glibc only: malloc is interposed in the executable).
bool rampart_malloc_counter_available(void);

/// Allocations (malloc, calloc, realloc, aligned allocations) since the process started.
unsigned long rampart_malloc_count(void);

#endif
