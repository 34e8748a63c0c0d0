import LinearAlgebra

/// The processes that train one network together, data-parallel (the ranks of an MPI job): each
/// holds the same parameters and relaxes its share of every batch, since relaxations are
/// independent per example; the group sums the shares' gradient estimates, so that every process
/// takes the same step (``Trainer/group``).
///
/// For a batch `B` split into shares `B_r`, the estimate of a rule is a sum over examples,
/// `ĝ(B) = Σ_r ĝ(B_r)`, so the summed step is the step on the whole batch up to the rounding of
/// the sum's order.
public protocol ProcessGroup: Sendable {
    /// This process's index, `0..<size`.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// Replaces `values`, on every process, by their element-wise sum over the group (every process
    /// passes as many).
    func sum<Scalar: BLASScalar>(_ values: inout [Scalar]) throws
    /// Whether every process passed the same `value`.
    func agree(on value: UInt64) throws -> Bool
}

extension ProcessGroup {
    /// This process's rows of a batch of `count` examples: the `rank`-th of `size` contiguous parts
    /// of near-equal size (empty when `count < size`), as a relaxation splits a batch among threads.
    public func share(of count: Int) -> Range<Int> {
        (rank * count / size)..<((rank + 1) * count / size)
    }

    /// `gradient` (one matrix per parameter, in the order of `energy.terms`) summed over the group.
    func sum<Scalar: BLASScalar>(_ gradient: [[Matrix<Scalar>]], shapedLike energy: LayeredEnergy<Scalar>) throws -> [[Matrix<Scalar>]] {
        let shapes = energy.terms.map { $0.parameters.map { ($0.rows, $0.columns) } }
        var flat = gradient.flatMap { $0.flatMap(\.elements) }
        precondition(flat.count == shapes.joined().reduce(0) { $0 + $1.0 * $1.1 }, "one gradient per parameter")
        try sum(&flat)
        var offset = 0
        return shapes.map { term in
            term.map { rows, columns in
                defer { offset += rows * columns }
                return Matrix(rows: rows, columns: columns, elements: Array(flat[offset..<(offset + rows * columns)]))
            }
        }
    }
}

/// A 64-bit FNV-1a hash of bytes, the same on every machine (Swift's `Hasher` is seeded per
/// process): what ``ProcessGroup/agree(on:)`` compares to check that ranks are still in step.
struct StableHash {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            value = (value ^ UInt64(byte)) &* 0x100_0000_01b3
        }
    }

    mutating func combine(_ word: UInt64) {
        withUnsafeBytes(of: word) { combine($0) }
    }
}
