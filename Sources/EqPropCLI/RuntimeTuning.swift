import CRuntimeTuning

/// Process settings that training needs to run at the speed of its arithmetic, applied once at
/// start-up (measured with `eqprop bench --preset family-mlp --rule R --epochs N`, builds with and
/// without run alternately):
/// - **Memory reuse.** Training allocates and frees the same few matrix sizes thousands of times
///   per epoch. By default glibc serves large allocations with fresh `mmap`s and trims freed memory
///   from the heap, so the kernel zeroes new pages again and again. Allocations up to 32 MiB now
///   come from the heap, and up to 1 GiB of freed memory is kept for reuse: backprop 1.81–1.87 →
///   1.61–1.75 s per epoch, PC 3.76–4.53 → 3.64–3.65 s.
/// - **Denormals flushed to zero** on the main thread, which applies the optimizer. Adam's moments
///   of rarely active weights (border pixels) decay through the denormal range, where each
///   operation takes a slow microcode path: backprop's epochs 2 and 3 (`--rule bp --epochs 3`) took
///   2.9 s instead of 1.9 s.
///   Values below 1.2e-38 (Float) or 2.2e-308 (Double) become zero.
enum RuntimeTuning {
    static func apply() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)
        eqprop_flush_denormals_to_zero()
    }
}
