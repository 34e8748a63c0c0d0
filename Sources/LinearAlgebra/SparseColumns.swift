/// A matrix's nonzero elements, column by column (compressed sparse columns) and row by row, for
/// products with a factor that is mostly zeros: a batch of MNIST images is four fifths background.
///
/// For `A` (`m × k`) with `nnz` nonzeros and a dense `B`, both
///
///     (A·B)_i = Σ_j A_ij · B_j        (row i of the product; B_j is row j of B)
///     (Aᵀ·D)_j = Σ_i A_ij · D_i       (row j of the product)
///
/// cost `nnz·n` multiply-adds instead of a GEMM's `m·k·n`, and only the rows `j` of `B` (or of the
/// product) that some example uses are read (or written). `A·B` visits `A` row by row, `Aᵀ·D`
/// column by column. The sums are the GEMM's, in another order.
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
    /// The nonzeros of row `i` are at `rowStarts[i]..<rowStarts[i + 1]` of `columnIndices` and
    /// `rowValues`, in increasing column order.
    public let rowStarts: [Int]
    public let columnIndices: [Int32]
    public let rowValues: [Scalar]

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
        var starts = [Int](repeating: 0, count: m + 1)
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
                        starts[i + 1] = p
                    }
                    for q in 0..<p { counts[Int(gatheredColumns[q])] += 1 }
                }
            }
        }
        var occupied: [Int] = []
        var columnStarts = [0]
        var next = [Int](repeating: 0, count: k)
        for j in 0..<k where counts[j] > 0 {
            occupied.append(j)
            next[j] = columnStarts[columnStarts.count - 1]
            columnStarts.append(next[j] + counts[j])
        }
        var indices = [Int](repeating: 0, count: nonzeroCount)
        var nonzeros = [Scalar](repeating: 0, count: nonzeroCount)
        var q = 0
        for i in 0..<m {
            while q < starts[i + 1] {
                let j = Int(gatheredColumns[q])
                indices[next[j]] = i
                nonzeros[next[j]] = gatheredValues[q]
                next[j] += 1
                q += 1
            }
        }
        occupiedColumns = occupied
        self.columnStarts = columnStarts
        rowIndices = indices
        values = nonzeros
        rowStarts = starts
        gatheredColumns.removeLast()
        gatheredValues.removeLast()
        columnIndices = gatheredColumns
        rowValues = gatheredValues
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

    /// Whether products with `weight` (`p × q`), `X·W` and `Y·Wᵀ` for a batch of rows, run faster
    /// with `Wᵀ` stored (as `X·(Wᵀ)ᵀ` and `Y·Wᵀ`): when `W` has at most 16 columns and at most 1,024
    /// rows. Timed with OpenBLAS 0.3.21's Cooperlake kernel on this project's AMD EPYC machine (one
    /// thread, 20-row batches): `W` 500×10, 3.18 and 3.72 µs stored as is, 2.11 and 2.31 µs
    /// transposed; 784×10, 4.95 and 5.29 against 3.05 and 3.25 µs; but 3136×10 (batch 32), 128 and
    /// 37 against 672 and 35 µs, and 500×100, 18 and 45 against 55 and 18 µs. With its Haswell
    /// kernel the layouts tie (4.71 and 3.30 against 4.55 and 3.28 µs on 500×10).
    public static func prefersTransposedOperand(_ weight: Matrix) -> Bool {
        weight.columns <= 16 && weight.rows <= 1024
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

    /// `self ← self + α·a·b`: row `i` of `self` gains `α·a_ij` times row `j` of `b` for each nonzero
    /// `a_ij` of row `i`, in column tiles of ``sparseTile`` (the outer loop, so that the rows of `b`
    /// the batch reads stay in cache across its examples), each tile's sum held in registers.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(never)
    public mutating func multiplyAdd(_ a: SparseColumns<Scalar>, _ b: Matrix, alpha: Scalar) {
        precondition(a.columns == b.rows && a.rows == rows && b.columns == columns,
                     "sparse product shape mismatch: (\(a.rows)×\(a.columns))·(\(b.rows)×\(b.columns)) into \(rows)×\(columns)")
        let n = columns
        b.elements.withUnsafeBufferPointer { pb in
            // Each nonzero's row of b and its factor α·a_ij, row by row.
            let sources = a.columnIndices.map { UnsafePointer(pb.baseAddress! + Int($0) * n) }
            let factors = a.rowValues.map { alpha * $0 }
            sources.withUnsafeBufferPointer { sources in
                factors.withUnsafeBufferPointer { factors in
                    elements.withUnsafeMutableBufferPointer { pc in
                        for tile in Swift.stride(from: 0, to: n, by: sparseTile) {
                            for i in 0..<a.rows {
                                let start = a.rowStarts[i]
                                accumulate(into: pc.baseAddress! + i * n + tile, count: Swift.min(sparseTile, n - tile),
                                           sources: sources.baseAddress! + start, factors: factors.baseAddress! + start,
                                           terms: a.rowStarts[i + 1] - start, offset: tile)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `self ← self + α·aᵀ·b`: row `j` of `self`, for each occupied column `j` of `a`, gains `α·a_ij`
    /// times row `i` of `b` for each nonzero `a_ij`, its sum held in registers tile by tile; the other
    /// rows are not touched.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(never)
    public mutating func multiplyAdd(transposing a: SparseColumns<Scalar>, _ b: Matrix, alpha: Scalar) {
        precondition(a.rows == b.rows && a.columns == rows && b.columns == columns,
                     "sparse product shape mismatch: (\(a.rows)×\(a.columns))ᵀ·(\(b.rows)×\(b.columns)) into \(rows)×\(columns)")
        let n = columns
        b.elements.withUnsafeBufferPointer { pb in
            // Each nonzero's row of b and its factor α·a_ij, column by column.
            let sources = a.rowIndices.map { UnsafePointer(pb.baseAddress! + $0 * n) }
            let factors = a.values.map { alpha * $0 }
            sources.withUnsafeBufferPointer { sources in
                factors.withUnsafeBufferPointer { factors in
                    elements.withUnsafeMutableBufferPointer { pc in
                        for (c, j) in a.occupiedColumns.enumerated() {
                            let start = a.columnStarts[c]
                            for tile in Swift.stride(from: 0, to: n, by: sparseTile) {
                                accumulate(into: pc.baseAddress! + j * n + tile, count: Swift.min(sparseTile, n - tile),
                                           sources: sources.baseAddress! + start, factors: factors.baseAddress! + start,
                                           terms: a.columnStarts[c + 1] - start, offset: tile)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The columns of a sparse product's tile: 64 floats are four AVX-512 registers.
private let sparseTile = 64

/// `target[t] += Σ_{q < terms} factors[q] · sources[q][offset + t]` for `t < count` (at most
/// ``sparseTile``): the target is loaded and stored once, and each term costs one load and one fused
/// multiply-add per vector of 16, the sums held in four vectors (one at a time on the tile's last
/// columns, the rest one by one).
@inline(__always)
private func accumulate<Scalar: BLASScalar>(into target: UnsafeMutablePointer<Scalar>, count: Int,
                                            sources: UnsafePointer<UnsafePointer<Scalar>>, factors: UnsafePointer<Scalar>,
                                            terms: Int, offset: Int) {
    typealias Vector = SIMD16<Scalar>
    let width = Vector.scalarCount
    var t = 0
    if count == 4 * width {
        var (s0, s1, s2, s3) = (Vector.load(target), Vector.load(target + width), Vector.load(target + 2 * width),
                                Vector.load(target + 3 * width))
        for q in 0..<terms {
            let source = sources[q] + offset
            let f = Vector(repeating: factors[q])
            s0.addProduct(f, Vector.load(source))
            s1.addProduct(f, Vector.load(source + width))
            s2.addProduct(f, Vector.load(source + 2 * width))
            s3.addProduct(f, Vector.load(source + 3 * width))
        }
        s0.store(to: target)
        s1.store(to: target + width)
        s2.store(to: target + 2 * width)
        s3.store(to: target + 3 * width)
        t = count
    }
    while t + width <= count {
        var sum = Vector.load(target + t)
        for q in 0..<terms { sum.addProduct(Vector(repeating: factors[q]), Vector.load(sources[q] + offset + t)) }
        sum.store(to: target + t)
        t += width
    }
    while t < count {
        var sum = target[t]
        for q in 0..<terms { sum.addProduct(factors[q], sources[q][offset + t]) }
        target[t] = sum
        t += 1
    }
}

extension SIMD16 where Scalar: BLASScalar {
    @inline(__always)
    static func load(_ pointer: UnsafePointer<Scalar>) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(as: Self.self)
    }

    @inline(__always)
    static func load(_ pointer: UnsafeMutablePointer<Scalar>) -> Self { load(UnsafePointer(pointer)) }

    @inline(__always)
    func store(to pointer: UnsafeMutablePointer<Scalar>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: Self.self)
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
