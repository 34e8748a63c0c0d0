extension Matrix {
    /// `self ← α · op(a) · op(b) + β · self`, one GEMM.
    ///
    /// `op(x)` is `xᵀ` when `transposeX` is set, else `x`.
    @inlinable
    public mutating func multiplyAdd(
        _ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false,
        alpha: Scalar = 1, beta: Scalar = 1
    ) {
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let kB = transposeB ? b.columns : b.rows
        let n = transposeB ? b.rows : b.columns
        precondition(k == kB && m == rows && n == columns,
                     "GEMM shape mismatch: (\(m)×\(k))·(\(kB)×\(n)) into \(rows)×\(columns)")
        if m == 0 || n == 0 { return }
        GEMMCensus.note(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, scalarSize: MemoryLayout<Scalar>.size)
        if k == 0 {
            scale(by: beta)
            return
        }
        let ldc = columns
        a.elements.withUnsafeBufferPointer { pa in
            b.elements.withUnsafeBufferPointer { pb in
                elements.withUnsafeMutableBufferPointer { pc in
                    Scalar.gemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                        alpha: alpha, a: pa.baseAddress!, lda: a.columns,
                        b: pb.baseAddress!, ldb: b.columns,
                        beta: beta, c: pc.baseAddress!, ldc: ldc)
                }
            }
        }
    }

    /// `op(a) · op(b)` as a new matrix.
    @inlinable
    public static func product(_ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false) -> Matrix {
        var result = Matrix(rows: transposeA ? a.columns : a.rows, columns: transposeB ? b.rows : b.columns)
        result.multiplyAdd(a, b, transposeA: transposeA, transposeB: transposeB, beta: 0)
        return result
    }

    /// `self ← self · factor`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func scale(by factor: Scalar) {
        elements.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] *= factor }
        }
    }

    /// `self ← self + factor · other` (same shape).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func add(_ other: Matrix, scaledBy factor: Scalar = 1) {
        precondition(other.rows == rows && other.columns == columns, "shape mismatch in add")
        other.elements.withUnsafeBufferPointer { source in
            elements.withUnsafeMutableBufferPointer { target in
                for i in target.indices { target[i] += factor * source[i] }
            }
        }
    }

    /// `self ← self + factor · otherᵀ` (`self` is `other.columns × other.rows`), in tiles of 16×16 so
    /// that both sides are read and written a cache line at a time.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func transposedAdd(_ other: Matrix, scaledBy factor: Scalar = 1) {
        precondition(other.rows == columns && other.columns == rows, "shape mismatch in transposedAdd")
        other.elements.withUnsafeBufferPointer { source in
            elements.withUnsafeMutableBufferPointer { target in
                Self.visitTransposedPairs(sourceRows: other.rows, sourceColumns: other.columns) { t, s in target[t] += factor * source[s] }
            }
        }
    }

    /// Calls `body(t, s)` for every element `s` of a row-major `sourceRows × sourceColumns` matrix and
    /// its index `t` in the transpose, in tiles of 16×16.
    @inline(__always)
    private static func visitTransposedPairs(sourceRows: Int, sourceColumns: Int, _ body: (Int, Int) -> Void) {
        let tile = 16
        for i0 in Swift.stride(from: 0, to: sourceRows, by: tile) {
            let i1 = Swift.min(i0 + tile, sourceRows)
            for j0 in Swift.stride(from: 0, to: sourceColumns, by: tile) {
                for j in j0..<Swift.min(j0 + tile, sourceColumns) {
                    for i in i0..<i1 { body(j * sourceRows + i, i * sourceColumns + j) }
                }
            }
        }
    }

    /// `self ← self ⊙ other`, the element-wise (Hadamard) product (same shape).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func multiply(elementwiseBy other: Matrix) {
        precondition(rows == other.rows && columns == other.columns, "shape mismatch: \(rows)×\(columns) ⊙ \(other.rows)×\(other.columns)")
        other.elements.withUnsafeBufferPointer { o in
            elements.withUnsafeMutableBufferPointer { s in
                for i in s.indices { s[i] *= o[i] }
            }
        }
    }

    /// Adds the row vector `row` (a `1 × columns` matrix) times `factor` to every row.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func addToEveryRow(_ row: Matrix, scaledBy factor: Scalar = 1) {
        precondition(row.rows == 1 && row.columns == columns, "row vector must be 1×\(columns)")
        let n = columns
        row.elements.withUnsafeBufferPointer { source in
            elements.withUnsafeMutableBufferPointer { target in
                for r in 0..<rows {
                    let base = r * n
                    for j in 0..<n { target[base + j] += factor * source[j] }
                }
            }
        }
    }

    /// A `1 × n` row with each entry repeated `count` times in place (`1 × n·count`): a bias per
    /// channel spread over the channel's pixels, channel-major.
    public func repeatingEach(_ count: Int) -> Matrix {
        precondition(rows == 1 && count > 0, "repeating the entries of a row")
        return count == 1 ? self : Matrix(rows: 1, columns: columns * count, elements: elements.flatMap { Array(repeating: $0, count: count) })
    }

    /// A `1 × n·count` row summed over consecutive groups of `count` (`1 × n`): the adjoint of
    /// ``repeatingEach(_:)``, a channel's pixels summed.
    public func groupSums(_ count: Int) -> Matrix {
        precondition(rows == 1 && count > 0 && columns % count == 0, "summing a row in groups")
        guard count > 1 else { return self }
        return Matrix(rows: 1, columns: columns / count,
                      elements: (0..<(columns / count)).map { group in elements[(group * count)..<((group + 1) * count)].reduce(0, +) })
    }

    /// The `1 × columns` matrix of column sums (Σ over the batch).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func columnSums() -> Matrix {
        var sums = Matrix(rows: 1, columns: columns)
        let n = columns
        elements.withUnsafeBufferPointer { source in
            sums.elements.withUnsafeMutableBufferPointer { target in
                for r in 0..<rows {
                    let base = r * n
                    for j in 0..<n { target[j] += source[base + j] }
                }
            }
        }
        return sums
    }

    /// Σᵢ selfᵢ · otherᵢ, accumulated in Double.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func dot(_ other: Matrix) -> Double {
        precondition(other.count == count, "shape mismatch in dot")
        return elements.withUnsafeBufferPointer { a in
            other.elements.withUnsafeBufferPointer { b in
                var sum: Double = 0
                for i in a.indices { sum += Double(a[i]) * Double(b[i]) }
                return sum
            }
        }
    }

    /// `self − other`.
    @inlinable
    public static func - (lhs: Matrix, rhs: Matrix) -> Matrix {
        var result = lhs
        result.add(rhs, scaledBy: -1)
        return result
    }

    /// `self + other`.
    @inlinable
    public static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        var result = lhs
        result.add(rhs)
        return result
    }

    /// The matrix transposed (copied in tiles, not zero-filled first).
    public var transposed: Matrix {
        @_specialize(where Scalar == Float)
        @_specialize(where Scalar == Double)
        get {
            let transposedElements = [Scalar](unsafeUninitializedCapacity: count) { target, initialized in
                elements.withUnsafeBufferPointer { source in
                    Self.visitTransposedPairs(sourceRows: rows, sourceColumns: columns) { t, s in target[t] = source[s] }
                }
                initialized = count
            }
            return Matrix(rows: columns, columns: rows, elements: transposedElements)
        }
    }

    /// The index of the largest element in each row.
    public func argmaxPerRow() -> [Int] {
        (0..<rows).map { r in
            var best = 0
            var bestValue = elements[r * columns]
            for j in 1..<columns where elements[r * columns + j] > bestValue {
                best = j
                bestValue = elements[r * columns + j]
            }
            return best
        }
    }
}

extension Matrix {
    /// The largest singular value `‖A‖₂`, estimated by `iterations` steps of the power method on
    /// `AᵀA` from a fixed start (deterministic). The estimate approaches `‖A‖₂` from below.
    public func spectralNorm(iterations: Int = 30) -> Double {
        guard rows > 0, columns > 0 else { return 0 }
        // A start with a component along every right singular vector (for almost every matrix).
        var v = Matrix(rows: columns, columns: 1, elements: (0..<columns).map { Scalar(1) + Scalar($0 % 7) / 7 })
        var norm = 0.0
        for _ in 0..<iterations {
            let length = v.dot(v).squareRoot()
            guard length > 0 else { return 0 }
            v.scale(by: Scalar(1 / length))
            let u = Matrix.product(self, v)
            norm = u.dot(u).squareRoot()
            v = Matrix.product(self, u, transposeA: true)
        }
        return norm
    }
}
