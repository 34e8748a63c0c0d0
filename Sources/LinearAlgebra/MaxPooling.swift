/// Max pooling over non-overlapping `w × w` windows of a `C × H × W` layer (`H` and `W` multiples of
/// `w`), giving `C × H/w × W/w`:
///
/// `P(u)[c, i, j] = max_{0 ≤ a, b < w} u[c, i·w + a, j·w + b]`.
///
/// `P` is piecewise linear: where the largest entry of each window is unique it is, near `u`, the
/// selection `P_A` of those entries (`A`, the ``Choice``), whose transpose `P_Aᵀ` puts each pooled
/// value back at its window's largest entry and zero elsewhere. It is not differentiable where a
/// window's largest entry is tied. Batches are matrices with one example per row, channel-major,
/// as for ``ConvolutionGeometry``.
public struct MaxPooling: Sendable, Equatable, Hashable, Codable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var window: Int

    public init(channels: Int, height: Int, width: Int, window: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.window = window
    }

    /// Why the windows do not tile the layer, or `nil`.
    public var problem: String? {
        if window < 1 { return "a pooling window must be at least 1, got \(window)" }
        if height % window != 0 || width % window != 0 {
            return "\(window)×\(window) windows do not tile the \(height)×\(width) convolution output"
        }
        return nil
    }

    public var pooledHeight: Int { height / window }
    public var pooledWidth: Int { width / window }
    /// `C·H·W`.
    public var inputUnits: Int { channels * height * width }
    /// `C·(H/w)·(W/w)`.
    public var pooledUnits: Int { channels * pooledHeight * pooledWidth }

    /// For each example and pooled unit (row-major, as the pooled batch's elements), the index among
    /// the pooled batch's elements of its window's largest entry, the first in row-major order when tied.
    public struct Choice: Sendable, Equatable {
        public var positions: [Int]
    }

    /// The column within an example of element `(a, b)` of pooled unit `(c, i, j)`'s window.
    @inline(__always)
    private func column(channel c: Int, row i: Int, column j: Int, a: Int, b: Int) -> Int {
        (c * height + i * window + a) * width + j * window + b
    }

    /// Each pooled unit's channel, row and column, in the pooled units' (channel-major) order.
    private var pooledIndices: [(Int, Int, Int)] {
        (0..<channels).flatMap { c in (0..<pooledHeight).flatMap { i in (0..<pooledWidth).map { j in (c, i, j) } } }
    }

    /// The columns (within an example) of each pooled unit's window, in the pooled units' order.
    public var windows: [[Int]] {
        pooledIndices.map { c, i, j in (0..<window).flatMap { a in (0..<window).map { b in column(channel: c, row: i, column: j, a: a, b: b) } } }
    }

    /// `P(u)` and where each window's maximum is.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func pool<Scalar: BLASScalar>(_ u: Matrix<Scalar>) -> (pooled: Matrix<Scalar>, choice: Choice) {
        precondition(u.columns == inputUnits, "pooling shape mismatch")
        var pooled = Matrix<Scalar>(rows: u.rows, columns: pooledUnits)
        var positions = [Int](repeating: 0, count: u.rows * pooledUnits)
        u.elements.withUnsafeBufferPointer { source in
            pooled.elements.withUnsafeMutableBufferPointer { values in
                positions.withUnsafeMutableBufferPointer { places in
                    for example in 0..<u.rows {
                        let row = source.baseAddress! + example * inputUnits
                        let first = example * pooledUnits
                        for (unit, (c, i, j)) in pooledIndices.enumerated() {
                            var best = column(channel: c, row: i, column: j, a: 0, b: 0)
                            for a in 0..<window {
                                for b in 0..<window where row[column(channel: c, row: i, column: j, a: a, b: b)] > row[best] {
                                    best = column(channel: c, row: i, column: j, a: a, b: b)
                                }
                            }
                            values[first + unit] = row[best]
                            places[first + unit] = example * inputUnits + best
                        }
                    }
                }
            }
        }
        return (pooled, Choice(positions: positions))
    }

    /// `P_A(v)`: the entries of `v` (`batch × inputUnits`) at the chosen positions.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func select<Scalar: BLASScalar>(_ v: Matrix<Scalar>, at choice: Choice) -> Matrix<Scalar> {
        precondition(v.columns == inputUnits && choice.positions.count == v.rows * pooledUnits, "pooling shape mismatch")
        return Matrix(rows: v.rows, columns: pooledUnits, elements: choice.positions.map { v.elements[$0] })
    }

    /// `P_Aᵀ(y)`: each entry of `y` (`batch × pooledUnits`) at its window's chosen position, zero
    /// elsewhere (`batch × inputUnits`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func route<Scalar: BLASScalar>(_ y: Matrix<Scalar>, to choice: Choice) -> Matrix<Scalar> {
        precondition(y.columns == pooledUnits && choice.positions.count == y.rows * pooledUnits, "pooling shape mismatch")
        var routed = Matrix<Scalar>(rows: y.rows, columns: inputUnits)
        for (unit, position) in choice.positions.enumerated() { routed.elements[position] = y.elements[unit] }
        return routed
    }
}
