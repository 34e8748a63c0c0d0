/// A matrix's nonzero elements, column by column (compressed sparse columns), for products with a
/// factor that is mostly zeros: a batch of MNIST images is four fifths background.
///
/// For `A` (`m × k`) with `nnz` nonzeros and a dense `B`, both
///
///     (A·B)_i = Σ_j A_ij · B_j        (row i of the product; B_j is row j of B)
///     (Aᵀ·D)_j = Σ_i A_ij · D_i       (row j of the product)
///
/// visit each of `A`'s occupied columns `j` once, with its few pairs `(i, A_ij)`: `nnz·n`
/// multiply-adds instead of a GEMM's `m·k·n`, and only the rows `j` of `B` (or of the product) that
/// some example uses are read (or written). The sums are the GEMM's, in another order.
public struct SparseColumns<Scalar: BLASScalar>: Sendable {
    public let rows: Int
    public let columns: Int
    /// The columns that hold a nonzero, increasing.
    public let occupiedColumns: [Int]
    /// The nonzeros of `occupiedColumns[c]` are at `columnStarts[c]..<columnStarts[c + 1]` of
    /// `rowIndices` and `values`.
    public let columnStarts: [Int]
    public let rowIndices: [Int]
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

    /// Each row's nonzeros are gathered without a branch (every element is written, the write
    /// position advancing past nonzeros only, so `nonzeroCount + 1` slots suffice), counted by
    /// column, then filed by column in row order.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(never)
    private init(_ matrix: Matrix<Scalar>, nonzeroCount: Int) {
        let (m, k) = (matrix.rows, matrix.columns)
        rows = m
        columns = k
        var gatheredColumns = [Int32](repeating: 0, count: nonzeroCount + 1)
        var gatheredValues = [Scalar](repeating: 0, count: nonzeroCount + 1)
        var rowEnds = [Int](repeating: 0, count: m)
        var counts = [Int](repeating: 0, count: k)
        matrix.elements.withUnsafeBufferPointer { a in
            gatheredColumns.withUnsafeMutableBufferPointer { gatheredColumns in
                gatheredValues.withUnsafeMutableBufferPointer { gatheredValues in
                    var p = 0
                    for i in 0..<m {
                        for j in 0..<k {
                            let x = a[i * k + j]
                            gatheredColumns[p] = Int32(truncatingIfNeeded: j)
                            gatheredValues[p] = x
                            p &+= x.nonzeroIndicator
                        }
                        rowEnds[i] = p
                    }
                    for q in 0..<p { counts[Int(gatheredColumns[q])] += 1 }
                }
            }
        }
        var occupied: [Int] = []
        var starts = [0]
        var next = [Int](repeating: 0, count: k)
        for j in 0..<k where counts[j] > 0 {
            occupied.append(j)
            next[j] = starts[starts.count - 1]
            starts.append(next[j] + counts[j])
        }
        var indices = [Int](repeating: 0, count: nonzeroCount)
        var nonzeros = [Scalar](repeating: 0, count: nonzeroCount)
        var q = 0
        for i in 0..<m {
            while q < rowEnds[i] {
                let j = Int(gatheredColumns[q])
                indices[next[j]] = i
                nonzeros[next[j]] = gatheredValues[q]
                next[j] += 1
                q += 1
            }
        }
        occupiedColumns = occupied
        columnStarts = starts
        rowIndices = indices
        values = nonzeros
    }
}

extension Matrix {
    /// `a`'s nonzeros when a product `A·B` (or `Aᵀ·B`) whose rows are `rowLength` long should visit
    /// only them rather than call GEMM, else `nil`: when fewer than a quarter of `a`'s elements are
    /// nonzero and the rows are at least 64 long. Each nonzero then costs one axpy along a row,
    /// which vectorises; on short rows (a 10-unit output layer) GEMM wins whatever the density.
    public static func sparseFactor(_ a: Matrix, rowLength: Int) -> SparseColumns<Scalar>? {
        rowLength >= 64 ? SparseColumns(a, ifDensityBelow: 0.25) : nil
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

    /// `self ← self + α·aᵀ·b`, as ``multiplyAdd(_:_:transposeA:transposeB:alpha:beta:)`` computes
    /// it, visiting only `a`'s nonzeros when ``sparseFactor(_:rowLength:)`` says so: the rows of
    /// `self` of `a`'s empty columns are then not touched.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func multiplyAddSkippingZeros(transposing a: Matrix, _ b: Matrix, alpha: Scalar) {
        if let sparse = Self.sparseFactor(a, rowLength: b.columns) {
            multiplyAdd(transposing: sparse, b, alpha: alpha)
        } else {
            multiplyAdd(a, b, transposeA: true, alpha: alpha)
        }
    }

    /// `self ← self + α·a·b`: for each occupied column `j` of `a` and each of its nonzeros `a_ij`,
    /// row `i` of `self` gains `α·a_ij` times row `j` of `b`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(never)
    public mutating func multiplyAdd(_ a: SparseColumns<Scalar>, _ b: Matrix, alpha: Scalar) {
        precondition(a.columns == b.rows && a.rows == rows && b.columns == columns,
                     "sparse product shape mismatch: (\(a.rows)×\(a.columns))·(\(b.rows)×\(b.columns)) into \(rows)×\(columns)")
        let n = columns
        b.elements.withUnsafeBufferPointer { pb in
            elements.withUnsafeMutableBufferPointer { pc in
                for (c, j) in a.occupiedColumns.enumerated() {
                    let source = pb.baseAddress! + j * n
                    for p in a.columnStarts[c]..<a.columnStarts[c + 1] {
                        scaledAdd(source, times: alpha * a.values[p], into: pc.baseAddress! + a.rowIndices[p] * n, count: n)
                    }
                }
            }
        }
    }

    /// `self ← self + α·aᵀ·b`: for each occupied column `j` of `a`, row `j` of `self` gains
    /// `α·a_ij` times row `i` of `b` for each nonzero `a_ij`; the other rows are not touched.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(never)
    public mutating func multiplyAdd(transposing a: SparseColumns<Scalar>, _ b: Matrix, alpha: Scalar) {
        precondition(a.rows == b.rows && a.columns == rows && b.columns == columns,
                     "sparse product shape mismatch: (\(a.rows)×\(a.columns))ᵀ·(\(b.rows)×\(b.columns)) into \(rows)×\(columns)")
        let n = columns
        b.elements.withUnsafeBufferPointer { pb in
            elements.withUnsafeMutableBufferPointer { pc in
                for (c, j) in a.occupiedColumns.enumerated() {
                    let target = pc.baseAddress! + j * n
                    var p = a.columnStarts[c]
                    let end = a.columnStarts[c + 1]
                    // Four rows of b at a time: the target row is loaded and stored once per four.
                    while p + 4 <= end {
                        let (s0, s1, s2, s3) = (pb.baseAddress! + a.rowIndices[p] * n, pb.baseAddress! + a.rowIndices[p + 1] * n,
                                                pb.baseAddress! + a.rowIndices[p + 2] * n, pb.baseAddress! + a.rowIndices[p + 3] * n)
                        let (f0, f1, f2, f3) = (alpha * a.values[p], alpha * a.values[p + 1], alpha * a.values[p + 2], alpha * a.values[p + 3])
                        for t in 0..<n {
                            var sum = target[t]
                            sum.addProduct(f0, s0[t])
                            sum.addProduct(f1, s1[t])
                            sum.addProduct(f2, s2[t])
                            sum.addProduct(f3, s3[t])
                            target[t] = sum
                        }
                        p += 4
                    }
                    for q in p..<end {
                        scaledAdd(pb.baseAddress! + a.rowIndices[q] * n, times: alpha * a.values[q], into: target, count: n)
                    }
                }
            }
        }
    }
}

extension BLASScalar {
    /// 1 if the value is not ±0 (a NaN counts as nonzero), else 0, from its bits without a branch: a
    /// comparison of floats compiles to a jump, mispredicted on every pixel of a stroke's edge.
    @inlinable
    var nonzeroIndicator: Int {
        let bits = magnitudeBits
        return Int(truncatingIfNeeded: (bits | (0 &- bits)) >> (MagnitudeBits.bitWidth - 1))
    }
}

/// `target[t] += factor · source[t]` for `t < count`, fused multiply-adds (an axpy; the two rows do
/// not overlap).
@inline(__always)
private func scaledAdd<Scalar: BLASScalar>(_ source: UnsafePointer<Scalar>, times factor: Scalar,
                                           into target: UnsafeMutablePointer<Scalar>, count: Int) {
    for t in 0..<count { target[t].addProduct(factor, source[t]) }
}
