import Foundation
import Synchronization

/// The shape of one matrix product `C (m×n) ← α·op(A)·op(B) + β·C` with inner dimension `k`.
public struct GEMMShape: Hashable, Sendable, Codable {
    public var m: Int
    public var n: Int
    public var k: Int
    public var transposeA: Bool
    public var transposeB: Bool
    /// `MemoryLayout<Scalar>.size`: 4 for `Float`, 8 for `Double`.
    public var scalarSize: Int
    /// Whether the product is a convolution's (a batch's unfolded patches against the kernels),
    /// rather than a dense product.
    public var convolution: Bool

    public init(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, scalarSize: Int, convolution: Bool = false) {
        self.m = m
        self.n = n
        self.k = k
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.scalarSize = scalarSize
        self.convolution = convolution
    }

    /// The floating-point operations of one product, `2mnk` (a multiply and an add per term).
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

/// Counts the matrix products a piece of code performs, by shape: the FLOPs of a training epoch are
/// counted, not estimated from a formula. Every ``Matrix/multiplyAdd(_:_:transposeA:transposeB:alpha:beta:)``
/// reports to it; outside ``recording(_:)`` a report costs one relaxed atomic load.
public enum GEMMCensus {
    private static let isRecording = Atomic<Bool>(false)
    /// The thread whose recording runs, if one does.
    private static let owner = Mutex<pthread_t?>(nil)
    private static let calls = Mutex<[GEMMShape: Int]>([:])

    /// Runs `body` and returns, with its result, the number of products of each shape it performed
    /// (on any thread). A recording started while another runs on another thread waits for it to
    /// end; one started inside a recording on the same thread traps (it would wait forever).
    public static func recording<T>(_ body: () throws -> T) rethrows -> (result: T, calls: [GEMMShape: Int]) {
        let me = pthread_self()
        while !owner.withLock({ owner in
            if let current = owner {
                precondition(pthread_equal(current, me) == 0, "GEMMCensus.recording: recordings do not nest")
                return false
            }
            owner = me
            return true
        }) {
            usleep(1_000)
        }
        calls.withLock { $0 = [:] }
        isRecording.store(true, ordering: .sequentiallyConsistent)
        defer {
            isRecording.store(false, ordering: .sequentiallyConsistent)
            owner.withLock { $0 = nil }
        }
        let result = try body()
        return (result, calls.withLock { $0 })
    }

    /// Notes one product (called by `multiplyAdd`).
    @usableFromInline
    static func note(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, scalarSize: Int, convolution: Bool = false) {
        guard isRecording.load(ordering: .relaxed) else { return }
        let shape = GEMMShape(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, scalarSize: scalarSize, convolution: convolution)
        calls.withLock { $0[shape, default: 0] += 1 }
    }
}

extension GEMMShape {
    /// The wall-clock seconds one product of this shape takes on the calling thread's BLAS settings:
    /// the best of three timings of enough repetitions to fill about 20 ms, on operands of uniform
    /// random values.
    public func measuredSecondsPerCall() -> Double {
        scalarSize == MemoryLayout<Double>.size ? measuredSecondsPerCall(Double.self) : measuredSecondsPerCall(Float.self)
    }

    private func measuredSecondsPerCall<Scalar: BLASScalar>(_: Scalar.Type) -> Double {
        var generator = SeededGenerator(seed: 0)
        let a = Matrix<Scalar>.uniform(rows: transposeA ? k : m, columns: transposeA ? m : k, in: -1...1, using: &generator)
        let b = Matrix<Scalar>.uniform(rows: transposeB ? n : k, columns: transposeB ? k : n, in: -1...1, using: &generator)
        var c = Matrix<Scalar>(rows: m, columns: n)
        func seconds(repetitions: Int) -> Double {
            let watch = Stopwatch()
            for _ in 0..<repetitions { c.multiplyAdd(a, b, transposeA: transposeA, transposeB: transposeB, beta: 0) }
            return watch.seconds
        }
        let first = max(seconds(repetitions: 1), 1e-9)
        let repetitions = max(1, Int(0.02 / first))
        return (0..<3).map { _ in seconds(repetitions: repetitions) }.min()! / Double(repetitions)
    }
}
