/// A matrix's nonzero elements column by column (compressed sparse columns), for products `Aᵀ·D`
/// with a factor that is mostly zeros, such as the weight update `W₀ += η·xᵀ·Δ` of a batch of images.
///
/// For `A` (`m × k`) with `nnz` nonzeros and a dense `D` (`m × n`),
///
///     (Aᵀ·D)_j = Σ_i A_ij · D_i       (row j of the product; D_i is row i of D)
///
/// costs `nnz·n` multiply-adds instead of a GEMM's `m·k·n`, and writes only the rows `j` of the
/// product that some example uses, each once. Filed from ``SparseRows``. The sums are the GEMM's, in
/// another order.
public struct SparseColumns<Scalar: BLASScalar>: Sendable {
    public let rows: Int
    public let columns: Int
    /// The columns that hold a nonzero, increasing.
    public let occupiedColumns: [Int]
    /// The nonzeros of `occupiedColumns[c]` are at `columnStarts[c]..<columnStarts[c + 1]` of
    /// `rowIndices` and `values`, in increasing row order.
    public let columnStarts: [Int]
    public let rowIndices: [Int]
    public let values: [Scalar]

    /// The nonzeros of `matrix`.
    public init(_ matrix: Matrix<Scalar>) {
        self.init(SparseRows(matrix))
    }

    /// The nonzeros of `sparseRows`, counted by column, then filed by column in row order.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @inline(never)
    public init(_ sparseRows: SparseRows<Scalar>) {
        let (m, k) = (sparseRows.rows, sparseRows.columns)
        rows = m
        columns = k
        let nonzeroCount = sparseRows.values.count
        var counts = [Int](repeating: 0, count: k)
        for j in sparseRows.columnIndices { counts[Int(j)] += 1 }
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
        sparseRows.columnIndices.withUnsafeBufferPointer { columnIndices in
            sparseRows.values.withUnsafeBufferPointer { values in
                indices.withUnsafeMutableBufferPointer { indices in
                    nonzeros.withUnsafeMutableBufferPointer { nonzeros in
                        next.withUnsafeMutableBufferPointer { next in
                            for i in 0..<m {
                                for q in sparseRows.rowStarts[i]..<sparseRows.rowStarts[i + 1] {
                                    let j = Int(columnIndices[q])
                                    indices[next[j]] = i
                                    nonzeros[next[j]] = values[q]
                                    next[j] &+= 1
                                }
                            }
                        }
                    }
                }
            }
        }
        occupiedColumns = occupied
        self.columnStarts = columnStarts
        rowIndices = indices
        values = nonzeros
    }
}

extension Matrix {
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

    /// `self ← self + α·aᵀ·b`, as ``multiplyAdd(_:_:transposeA:transposeB:alpha:beta:)`` computes
    /// it, visiting only `a`'s nonzeros when ``sparseFactor(_:rowLength:)`` says so: the rows of
    /// `self` of `a`'s empty columns are then not touched.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func multiplyAddSkippingZeros(transposing a: Matrix, _ b: Matrix, alpha: Scalar) {
        if let sparse = Self.sparseFactor(a, rowLength: b.columns) {
            multiplyAdd(transposing: SparseColumns(sparse), b, alpha: alpha)
        } else {
            multiplyAdd(a, b, transposeA: true, alpha: alpha)
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
        // Column by column, each nonzero's row of b and its factor α·a_ij.
        withSparseTerms(rowsOf: b, at: a.rowIndices, values: a.values, alpha: alpha) { sources, factors, target in
            for (c, j) in a.occupiedColumns.enumerated() {
                let start = a.columnStarts[c]
                for tile in Swift.stride(from: 0, to: n, by: sparseTile) {
                    accumulate(into: target + j * n + tile, count: Swift.min(sparseTile, n - tile), sources: sources + start,
                               factors: factors + start, terms: a.columnStarts[c + 1] - start, offset: tile)
                }
            }
        }
    }

    /// Calls `body` with the terms of a sparse product into this matrix: for each nonzero `q` of the
    /// sparse factor, the row `indices[q]` of `b` it multiplies and its factor `α·values[q]`, and
    /// this matrix's elements.
    @inline(__always)
    mutating func withSparseTerms<Index: BinaryInteger>(
        rowsOf b: Matrix, at indices: [Index], values: [Scalar], alpha: Scalar,
        _ body: (_ sources: UnsafePointer<UnsafePointer<Scalar>>, _ factors: UnsafePointer<Scalar>,
                 _ target: UnsafeMutablePointer<Scalar>) -> Void
    ) {
        let n = b.columns
        b.elements.withUnsafeBufferPointer { pb in
            let sources = indices.map { UnsafePointer(pb.baseAddress! + Int($0) * n) }
            let factors = values.map { alpha * $0 }
            sources.withUnsafeBufferPointer { sources in
                factors.withUnsafeBufferPointer { factors in
                    elements.withUnsafeMutableBufferPointer { target in
                        body(sources.baseAddress!, factors.baseAddress!, target.baseAddress!)
                    }
                }
            }
        }
    }
}

/// The columns of a sparse product's tile: 64 floats are four AVX-512 registers.
let sparseTile = 64

/// `target[t] += Σ_{q < terms} factors[q] · sources[q][offset + t]` for `t < count` (at most
/// ``sparseTile``): the target is loaded and stored once, and each term costs one load and one fused
/// multiply-add per vector of 16, the sums held in four vectors (one at a time on the tile's last
/// columns, the rest one by one).
@inline(__always)
func accumulate<Scalar: BLASScalar>(into target: UnsafeMutablePointer<Scalar>, count: Int,
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
