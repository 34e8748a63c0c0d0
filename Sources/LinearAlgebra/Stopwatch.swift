import Dispatch

/// Elapsed wall-clock time on the monotonic clock: `let watch = Stopwatch()` starts it, and
/// `watch.seconds` reads the seconds since then (it keeps running; read it as often as needed).
///
/// One type for every timing in the package (epochs, benchmarks and their products, relaxation
/// surveys, MPI sums, evaluations, the STDP experiment), so that they all measure the same way.
public struct Stopwatch: Sendable {
    private let start = DispatchTime.now()

    public init() {}

    /// Seconds since the stopwatch was made.
    public var seconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }
}
