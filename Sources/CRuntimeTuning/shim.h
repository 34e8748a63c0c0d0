#include <malloc.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

/// Sets the calling thread's SSE control register to flush denormal results to zero (FTZ) and to
/// read denormal inputs as zero (DAZ); elsewhere than on x86-64, does nothing.
static inline void eqprop_flush_denormals_to_zero(void) {
#if defined(__x86_64__)
    _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
}
