/// The geometry of a two-dimensional convolution: an input of `C_in × H × W` channels and pixels,
/// `C_out` kernels of `k × k`, a stride `s` and a zero padding `p` on every side, giving an output of
/// `C_out × H' × W'` with `H' = ⌊(H + 2p − k)/s⌋ + 1` (and `W'` alike).
///
/// A batch of such layers is a matrix with one example per row, each row channel-major: element
/// `(c, y, x)` of an example is at column `(c·H + y)·W + x`. The weight is the matrix
/// `C_out × (C_in·k·k)`, kernel `o`'s element `(c, u, v)` at column `(c·k + u)·k + v`. With `X_b` the
/// example's patches unfolded (``unfold(_:into:)``, `C_in·k·k × H'·W'`), the convolution is the
/// product
///
///     conv(x; W)_b = W · X_b                         (C_out × H'·W', the output's row)
///
/// so that its adjoint (`⟨u, conv(x; W)⟩ = ⟨convᵀ(u; W), x⟩`) folds `Wᵀ · u_b` back onto the input's
/// pixels (``fold(_:into:)``), and the derivative of `⟨u, conv(x; W)⟩` in `W` is `Σ_b u_b · X_bᵀ`.
/// Each example's product is one GEMM, reported to ``GEMMCensus``.
public struct ConvolutionGeometry: Sendable, Equatable, Hashable, Codable {
    public var inputChannels: Int
    public var height: Int
    public var width: Int
    public var outputChannels: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(inputChannels: Int, height: Int, width: Int, outputChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.inputChannels = inputChannels
        self.height = height
        self.width = width
        self.outputChannels = outputChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// Why this geometry is not a convolution (a dimension not positive, a kernel larger than the
    /// padded input, a padding as large as the kernel), or `nil`.
    public var problem: String? {
        if [inputChannels, height, width, outputChannels, kernel, stride].contains(where: { $0 <= 0 }) || padding < 0 {
            return "channels, sizes, kernel and stride must be positive and the padding not negative"
        }
        if kernel > height + 2 * padding || kernel > width + 2 * padding {
            return "the \(kernel)×\(kernel) kernel is larger than the padded \(height + 2 * padding)×\(width + 2 * padding) input"
        }
        if padding >= kernel { return "a padding of \(padding) is not smaller than the \(kernel)×\(kernel) kernel: some outputs would see only padding" }
        return nil
    }

    public var outputHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// `H'·W'`, the output's pixels per channel.
    public var outputPixels: Int { outputHeight * outputWidth }
    /// `C_in·H·W`.
    public var inputUnits: Int { inputChannels * height * width }
    /// `C_out·H'·W'`.
    public var outputUnits: Int { outputChannels * outputPixels }
    /// `C_in·k·k`, the columns of the weight.
    public var patchSize: Int { inputChannels * kernel * kernel }

    /// `patches ← X`, the `patchSize × outputPixels` unfolding of one example `x` (`inputUnits`
    /// long): `X[(c·k + u)·k + v, y'·W' + x'] = x[c, y'·s + u − p, x'·s + v − p]`, zero in the padding.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func unfold<Scalar: BLASScalar>(_ x: UnsafePointer<Scalar>, into patches: UnsafeMutablePointer<Scalar>) {
        patches.update(repeating: 0, count: patchSize * outputPixels)
        let stride = stride
        forEachRunInside { patchStart, inputStart, count in
            let target = patches + patchStart, source = x + inputStart
            if stride == 1 {
                target.update(from: source, count: count)
            } else {
                for i in 0..<count { target[i] = source[i * stride] }
            }
        }
    }

    /// `x += fold(patches)`, the adjoint of ``unfold(_:into:)``: every entry of the patches is added
    /// back onto the input pixel it was read from (entries from the padding are dropped).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func fold<Scalar: BLASScalar>(_ patches: UnsafePointer<Scalar>, into x: UnsafeMutablePointer<Scalar>) {
        let stride = stride
        forEachRunInside { patchStart, inputStart, count in
            let source = patches + patchStart, target = x + inputStart
            for i in 0..<count { target[i * stride] += source[i] }
        }
    }

    /// `body(patchStart, inputStart, count)` for each kernel offset `(c, u, v)` and each output row `y'`
    /// whose input row `y'·s + u − p` lies inside the image: the run of output columns `x'` whose input
    /// column `x'·s + v − p` lies inside too. Its `count` patch entries start at `patchStart`; the input
    /// pixels they are read from start at `inputStart`, `s` apart. Entries outside every run read the
    /// padding. The ranges are worked out once per kernel offset, so the copies test nothing per entry.
    @inline(__always)
    private func forEachRunInside(_ body: (Int, Int, Int) -> Void) {
        let (outputHeight, outputWidth) = (outputHeight, outputWidth)
        for c in 0..<inputChannels {
            for u in 0..<kernel {
                let rows = outputsInside(offset: u, extent: height, outputs: outputHeight)
                for v in 0..<kernel {
                    let columns = outputsInside(offset: v, extent: width, outputs: outputWidth)
                    if columns.isEmpty { continue }
                    let patchStart = ((c * kernel + u) * kernel + v) * outputHeight * outputWidth + columns.lowerBound
                    for y in rows {
                        let inputRow = (c * height + y * stride + u - padding) * width
                        body(patchStart + y * outputWidth, inputRow + columns.lowerBound * stride + v - padding, columns.count)
                    }
                }
            }
        }
    }

    /// The outputs `i'` (rows or columns) whose input `i'·s + o − p` lies inside `0..<extent`, for the
    /// kernel offset `o`:  `i' ≥ ⌈(p − o)/s⌉`  and  `i' ≤ ⌊(extent − 1 + p − o)/s⌋`.
    @inline(__always)
    private func outputsInside(offset o: Int, extent: Int, outputs: Int) -> Range<Int> {
        let low = padding > o ? (padding - o + stride - 1) / stride : 0
        let last = extent - 1 + padding - o
        let high = last < 0 ? 0 : Swift.min(outputs, last / stride + 1)
        return Swift.min(low, high)..<high
    }
}

extension Matrix {
    /// `self ← self + α·conv(x; weight)`: `x` is `batch × inputUnits`, `weight` is
    /// `outputChannels × patchSize`, `self` is `batch × outputUnits`; one GEMM per example.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func addConvolution(of x: Matrix, by weight: Matrix, geometry g: ConvolutionGeometry, alpha: Scalar = 1) {
        precondition(x.columns == g.inputUnits && columns == g.outputUnits && x.rows == rows
                     && weight.rows == g.outputChannels && weight.columns == g.patchSize, "convolution shape mismatch")
        forEachExample(of: x, weight, geometry: g) { b, px, pw, pc, patches in
            g.unfold(px + b * g.inputUnits, into: patches)
            Self.countedGEMM(transposeA: false, transposeB: false, m: g.outputChannels, n: g.outputPixels, k: g.patchSize,
                        alpha: alpha, a: pw, lda: g.patchSize, b: patches, ldb: g.outputPixels,
                        beta: 1, c: pc + b * g.outputUnits, ldc: g.outputPixels)
        }
    }

    /// `self ← self + α·convᵀ(u; weight)`, the adjoint of the convolution: `u` is
    /// `batch × outputUnits`, `self` is `batch × inputUnits`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func addTransposedConvolution(of u: Matrix, by weight: Matrix, geometry g: ConvolutionGeometry, alpha: Scalar = 1) {
        precondition(u.columns == g.outputUnits && columns == g.inputUnits && u.rows == rows
                     && weight.rows == g.outputChannels && weight.columns == g.patchSize, "transposed convolution shape mismatch")
        forEachExample(of: u, weight, geometry: g) { b, pu, pw, pc, patches in
            Self.countedGEMM(transposeA: true, transposeB: false, m: g.patchSize, n: g.outputPixels, k: g.outputChannels,
                        alpha: alpha, a: pw, lda: g.patchSize, b: pu + b * g.outputUnits,
                        ldb: g.outputPixels, beta: 0, c: patches, ldc: g.outputPixels)
            g.fold(patches, into: pc + b * g.inputUnits)
        }
    }

    /// `self ← self + α·Σ_b u_b · X_bᵀ`, the derivative of `⟨u, conv(x; W)⟩` in `W` (`self` is
    /// `outputChannels × patchSize`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func addConvolutionWeightGradient(output u: Matrix, input x: Matrix, geometry g: ConvolutionGeometry, alpha: Scalar = 1) {
        precondition(u.columns == g.outputUnits && x.columns == g.inputUnits && u.rows == x.rows
                     && rows == g.outputChannels && columns == g.patchSize, "convolution weight gradient shape mismatch")
        forEachExample(of: x, u, geometry: g) { b, px, pu, pc, patches in
            g.unfold(px + b * g.inputUnits, into: patches)
            Self.countedGEMM(transposeA: false, transposeB: true, m: g.outputChannels, n: g.patchSize, k: g.outputPixels,
                        alpha: alpha, a: pu + b * g.outputUnits, lda: g.outputPixels,
                        b: patches, ldb: g.outputPixels, beta: 1, c: pc, ldc: g.patchSize)
        }
    }

    /// One GEMM on raw buffers, reported to ``GEMMCensus`` as a convolution's product.
    @inline(__always)
    private static func countedGEMM(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Scalar, a: UnsafePointer<Scalar>, lda: Int,
                                    b: UnsafePointer<Scalar>, ldb: Int, beta: Scalar, c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        GEMMCensus.note(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, scalarSize: MemoryLayout<Scalar>.size,
                        convolution: true)
        Scalar.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: c, ldc: ldc)
    }

    /// `body(b, a, b, self, patches)` for each example (row) `b` of `first`, with the elements of
    /// `first`, `second` and `self` and one scratch buffer of an example's patches.
    private mutating func forEachExample(
        of first: Matrix, _ second: Matrix, geometry g: ConvolutionGeometry,
        _ body: (Int, UnsafePointer<Scalar>, UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void
    ) {
        var patches = [Scalar](repeating: 0, count: g.patchSize * g.outputPixels)
        first.elements.withUnsafeBufferPointer { p1 in
            second.elements.withUnsafeBufferPointer { p2 in
                elements.withUnsafeMutableBufferPointer { pc in
                    patches.withUnsafeMutableBufferPointer { pp in
                        for b in 0..<first.rows { body(b, p1.baseAddress!, p2.baseAddress!, pc.baseAddress!, pp.baseAddress!) }
                    }
                }
            }
        }
    }
}

extension ConvolutionGeometry {
    /// The largest singular value of `conv(·; weight)` as a linear map from the input's units to the
    /// output's, by `iterations` steps of the power method on `convᵀ∘conv` from a fixed start
    /// (deterministic; the estimate approaches the norm from below, as
    /// ``Matrix/spectralNorm(iterations:)`` does for a dense weight). A convolution's top singular
    /// values lie close together (neighbouring spatial frequencies), so the power method needs more
    /// steps than a dense weight's: 30 left a small network's bound 3% short, 300 do not.
    public func spectralNorm<Scalar: BLASScalar>(of weight: Matrix<Scalar>, iterations: Int = 300) -> Double {
        var v = Matrix<Scalar>(rows: 1, columns: inputUnits, elements: (0..<inputUnits).map { Scalar(1) + Scalar($0 % 7) / 7 })
        var norm = 0.0
        for _ in 0..<iterations {
            let length = v.dot(v).squareRoot()
            guard length > 0 else { return 0 }
            v.scale(by: Scalar(1 / length))
            var u = Matrix<Scalar>(rows: 1, columns: outputUnits)
            u.addConvolution(of: v, by: weight, geometry: self)
            norm = u.dot(u).squareRoot()
            v = Matrix(rows: 1, columns: inputUnits)
            v.addTransposedConvolution(of: u, by: weight, geometry: self)
        }
        return norm
    }
}
