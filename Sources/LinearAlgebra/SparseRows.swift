/// A matrix's nonzero elements row by row (compressed sparse rows), for products `A·B` with a
/// factor that is mostly zeros: a batch of MNIST images is four fifths background.
///
/// For `A` (`m × k`) with `nnz` nonzeros and a dense `B` (`k × n`),
///
///     (A·B)_i = Σ_j A_ij · B_j        (row i of the product; B_j is row j of B)
///
/// costs `nnz·n` multiply-adds instead of a GEMM's `m·k·n`, and reads only the rows `j` of `B` that
/// some example uses. ``SparseColumns`` files the same nonzeros by column, for `Aᵀ·D`. The sums are
/// the GEMM's, in another order.
public struct SparseRows<Scalar: BLASScalar>: Sendable {
    public let rows: Int
    public let columns: Int
    /// The nonzeros of row `i` are at `rowStarts[i]..<rowStarts[i + 1]` of `columnIndices` and
    /// `values`, in increasing column order.
    public let rowStarts: [Int]
    public let columnIndices: [Int32]
    public let values: [Scalar]

    /// The nonzeros of `matrix`.
    public init(_ matrix: Matrix<Scalar>) {
        self.init(matrix, nonzeroCount: matrix.nonzeroCount())
    }

    /// The nonzeros of `matrix` if fewer than `maximumDensity` of its elements are nonzero, else `nil`
    /// (decided by a count, before anything is built).
    public init?(_ matrix: Matrix<Scalar>, ifDensityBelow maximumDensity: Double) {
        let nonzeros = matrix.nonzeroCount()
        guard Double(nonzeros) < maximumDensity * Double(matrix.count) else { return nil }
        self.init(matrix, nonzeroCount: nonzeros)
    }

    /// Each row's nonzeros are gathered without a branch: every element is written, the write
    /// position advancing past nonzeros only, so `nonzeroCount + 1` slots suffice.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(never)
    private init(_ matrix: Matrix<Scalar>, nonzeroCount: Int) {
        let (m, k) = (matrix.rows, matrix.columns)
        rows = m
        columns = k
        var gatheredColumns = [Int32](repeating: 0, count: nonzeroCount + 1)
        var gatheredValues = [Scalar](repeating: 0, count: nonzeroCount + 1)
        var starts = [Int](repeating: 0, count: m + 1)
        matrix.elements.withUnsafeBufferPointer { a in
            gatheredColumns.withUnsafeMutableBufferPointer { gatheredColumns in
                gatheredValues.withUnsafeMutableBufferPointer { gatheredValues in
                    starts.withUnsafeMutableBufferPointer { starts in
                        var p = 0, e = 0
                        for i in 0..<m {
                            for j in 0..<k {
                                let x = a[e]
                                gatheredColumns[p] = Int32(truncatingIfNeeded: j)
                                gatheredValues[p] = x
                                p &+= x.nonzeroIndicator
                                e &+= 1
                            }
                            starts[i &+ 1] = p
                        }
                    }
                }
            }
        }
        gatheredColumns.removeLast()
        gatheredValues.removeLast()
        rowStarts = starts
        columnIndices = gatheredColumns
        values = gatheredValues
    }
}

extension Matrix {
    /// `a`'s nonzeros when a product `A·B` (or `Aᵀ·B`) whose rows are `rowLength` long should visit
    /// only them rather than call GEMM, else `nil`: when fewer than a quarter of `a`'s elements are
    /// nonzero and the rows are at least 64 long. Each nonzero then costs one axpy along a row,
    /// which vectorises; on short rows (a 10-unit output layer) GEMM wins whatever the density.
    public static func sparseFactor(_ a: Matrix, rowLength: Int) -> SparseRows<Scalar>? {
        rowLength >= 64 ? SparseRows(a, ifDensityBelow: 0.25) : nil
    }

    /// The number of nonzero elements (one pass that vectorises).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func nonzeroCount() -> Int {
        elements.withUnsafeBufferPointer { buffer in
            var count = 0
            for value in buffer { count &+= value.nonzeroIndicator }
            return count
        }
    }

    /// `self ← self + α·a·b`, as ``multiplyAdd(_:_:transposeA:transposeB:alpha:beta:)`` computes
    /// it, visiting only `a`'s nonzeros when ``sparseFactor(_:rowLength:)`` says so.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func multiplyAddSkippingZeros(_ a: Matrix, _ b: Matrix, alpha: Scalar) {
        if let sparse = Self.sparseFactor(a, rowLength: b.columns) {
            multiplyAdd(sparse, b, alpha: alpha)
        } else {
            multiplyAdd(a, b, alpha: alpha)
        }
    }

    /// `self ← self + α·a·b`: row `i` of `self` gains `α·a_ij` times row `j` of `b` for each nonzero
    /// `a_ij` of row `i`, in column tiles of ``sparseTile`` (the outer loop, so that the rows of `b`
    /// the batch reads stay in cache across its examples), each tile's sum held in registers.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(never)
    public mutating func multiplyAdd(_ a: SparseRows<Scalar>, _ b: Matrix, alpha: Scalar) {
        precondition(a.columns == b.rows && a.rows == rows && b.columns == columns,
                     "sparse product shape mismatch: (\(a.rows)×\(a.columns))·(\(b.rows)×\(b.columns)) into \(rows)×\(columns)")
        let n = columns
        // Row by row, each nonzero's row of b and its factor α·a_ij.
        withSparseTerms(rowsOf: b, at: a.columnIndices, values: a.values, alpha: alpha) { sources, factors, target in
            for tile in Swift.stride(from: 0, to: n, by: sparseTile) {
                for i in 0..<a.rows {
                    let start = a.rowStarts[i]
                    accumulate(into: target + i * n + tile, count: Swift.min(sparseTile, n - tile), sources: sources + start,
                               factors: factors + start, terms: a.rowStarts[i + 1] - start, offset: tile)
                }
            }
        }
    }
}
