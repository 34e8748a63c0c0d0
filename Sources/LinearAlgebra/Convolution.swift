/// The geometry of a two-dimensional convolution: an input of `C_in × H × W` channels and pixels,
/// `C_out` kernels of `k × k`, a stride `s` and a zero padding `p` on every side, giving an output of
/// `C_out × H' × W'` with `H' = ⌊(H + 2p − k)/s⌋ + 1` (and `W'` alike).
///
/// A batch of such layers is a matrix with one example per row, each row channel-major: element
/// `(c, y, x)` of an example is at column `(c·H + y)·W + x`. The weight is the matrix
/// `C_out × (C_in·k·k)`, kernel `o`'s element `(c, u, v)` at column `(c·k + u)·k + v`. With `X` a
/// batch of `B` examples' patches unfolded side by side (``unfold(batch:_:into:)``,
/// `C_in·k·k × H'·W'·B`, the example innermost), the convolution of the whole batch is one product
///
///     conv(x; W) = W · X                             (C_out × H'·W'·B: the output, example innermost)
///
/// so that its adjoint (`⟨u, conv(x; W)⟩ = ⟨convᵀ(u; W), x⟩`) folds `Wᵀ · u` back onto the input's
/// pixels (``fold(batch:_:into:)``), and the derivative of `⟨u, conv(x; W)⟩` in `W` is `u · Xᵀ`.
/// Laid out with the example innermost, every patch entry is a run of `B` adjacent numbers, so
/// unfolding and folding copy blocks instead of single numbers `s` apart; the batch is transposed
/// into that layout and back (``Matrix/transposedAdd(_:scaledBy:)``). Each product is reported to
/// ``GEMMCensus``.
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

    /// `patches ← X`, the `patchSize × outputPixels·B` unfolding of a batch of `B` examples laid out
    /// with the example innermost (`x` is `inputUnits × B`: example `b`'s pixel `(c, y, x)` at
    /// `((c·H + y)·W + x)·B + b`):
    /// `X[(c·k + u)·k + v, (y'·W' + x')·B + b] = x_b[c, y'·s + u − p, x'·s + v − p]`, zero in the
    /// padding. With `B = 1` it unfolds one example's row.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func unfold<Scalar: BLASScalar>(batch: Int, _ x: UnsafePointer<Scalar>, into patches: UnsafeMutablePointer<Scalar>) {
        // Without padding every entry reads a pixel: the runs cover the patches.
        if padding > 0 { patches.update(repeating: 0, count: patchSize * outputPixels * batch) }
        let step = stride * batch
        forEachRunInside { patchStart, inputStart, count in
            let target = patches + patchStart * batch, source = x + inputStart * batch
            if stride == 1 {
                target.update(from: source, count: count * batch)
            } else {
                for i in 0..<count { (target + i * batch).update(from: source + i * step, count: batch) }
            }
        }
    }

    /// `x += fold(patches)`, the adjoint of ``unfold(batch:_:into:)``: every entry of the patches is
    /// added back onto the input pixel it was read from (entries from the padding are dropped).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func fold<Scalar: BLASScalar>(batch: Int, _ patches: UnsafePointer<Scalar>, into x: UnsafeMutablePointer<Scalar>) {
        let step = stride * batch
        forEachRunInside { patchStart, inputStart, count in
            let source = patches + patchStart * batch, target = x + inputStart * batch
            if stride == 1 {
                for i in 0..<(count * batch) { target[i] += source[i] }
            } else {
                for i in 0..<count {
                    let (from, to) = (source + i * batch, target + i * step)
                    for j in 0..<batch { to[j] += from[j] }
                }
            }
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
    /// `outputChannels × patchSize`, `self` is `batch × outputUnits`: a GEMM over the whole batch's patches.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func addConvolution(of x: Matrix, by weight: Matrix, geometry g: ConvolutionGeometry, alpha: Scalar = 1) {
        precondition(x.columns == g.inputUnits && columns == g.outputUnits && x.rows == rows
                     && weight.rows == g.outputChannels && weight.columns == g.patchSize, "convolution shape mismatch")
        let patches = x.unfoldedPatches(geometry: g)
        let width = g.outputPixels * rows
        // C_out × H'·W'·B, the example innermost; the product writes every element.
        let convolved = [Scalar](unsafeUninitializedCapacity: g.outputUnits * rows) { buffer, count in
            patches.withUnsafeBufferPointer { pp in
                weight.elements.withUnsafeBufferPointer { pw in
                    Self.convolutionGEMM(transposeA: false, m: g.outputChannels, n: width, k: g.patchSize,
                                         alpha: alpha, a: pw.baseAddress!, lda: g.patchSize, b: pp.baseAddress!, ldb: width,
                                         c: buffer.baseAddress!, ldc: width)
                }
            }
            count = g.outputUnits * rows
        }
        transposedAdd(Matrix(rows: g.outputUnits, columns: rows, elements: convolved))
    }

    /// `self ← self + α·convᵀ(u; weight)`, the adjoint of the convolution: `u` is
    /// `batch × outputUnits`, `self` is `batch × inputUnits`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func addTransposedConvolution(of u: Matrix, by weight: Matrix, geometry g: ConvolutionGeometry, alpha: Scalar = 1) {
        precondition(u.columns == g.outputUnits && columns == g.inputUnits && u.rows == rows
                     && weight.rows == g.outputChannels && weight.columns == g.patchSize, "transposed convolution shape mismatch")
        let unitMajor = u.transposed  // C_out × H'·W'·B, the example innermost
        let width = g.outputPixels * rows
        let patches = [Scalar](unsafeUninitializedCapacity: g.patchSize * width) { buffer, count in
            unitMajor.elements.withUnsafeBufferPointer { pu in
                weight.elements.withUnsafeBufferPointer { pw in
                    Self.convolutionGEMM(transposeA: true, m: g.patchSize, n: width, k: g.outputChannels,
                                         alpha: alpha, a: pw.baseAddress!, lda: g.patchSize, b: pu.baseAddress!, ldb: width,
                                         c: buffer.baseAddress!, ldc: width)
                }
            }
            count = g.patchSize * width
        }
        var folded = Matrix(rows: g.inputUnits, columns: rows)
        patches.withUnsafeBufferPointer { pp in
            folded.elements.withUnsafeMutableBufferPointer { pf in g.fold(batch: rows, pp.baseAddress!, into: pf.baseAddress!) }
        }
        transposedAdd(folded)
    }

    /// `self ← self + α·Σ_b u_b · X_bᵀ`, the derivative of `⟨u, conv(x; W)⟩` in `W` (`self` is
    /// `outputChannels × patchSize`): one GEMM over the batch's patches.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func addConvolutionWeightGradient(output u: Matrix, input x: Matrix, geometry g: ConvolutionGeometry, alpha: Scalar = 1) {
        precondition(u.columns == g.outputUnits && x.columns == g.inputUnits && u.rows == x.rows
                     && rows == g.outputChannels && columns == g.patchSize, "convolution weight gradient shape mismatch")
        let patches = x.unfoldedPatches(geometry: g)
        let unitMajor = u.transposed
        let width = g.outputPixels * u.rows
        patches.withUnsafeBufferPointer { pp in
            unitMajor.elements.withUnsafeBufferPointer { pu in
                elements.withUnsafeMutableBufferPointer { pc in
                    Self.countedGEMM(transposeA: false, transposeB: true, m: g.outputChannels, n: g.patchSize, k: width,
                                     alpha: alpha, a: pu.baseAddress!, lda: width, b: pp.baseAddress!, ldb: width,
                                     beta: 1, c: pc.baseAddress!, ldc: g.patchSize)
                }
            }
        }
    }

    /// The batch's patches, `patchSize × outputPixels·batch` (``ConvolutionGeometry/unfold(batch:_:into:)``).
    private func unfoldedPatches(geometry g: ConvolutionGeometry) -> [Scalar] {
        let unitMajor = transposed
        let count = g.patchSize * g.outputPixels * rows
        return [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            unitMajor.elements.withUnsafeBufferPointer { g.unfold(batch: rows, $0.baseAddress!, into: buffer.baseAddress!) }
            initialized = count
        }
    }

    /// `C ← α·op(A)·B + β·C` on raw buffers, reported to ``GEMMCensus`` as a convolution's products.
    /// `B`'s columns (the patches' pixels and examples) are independent, so when `m·k` is small they
    /// are split into products of at most 2¹⁹ multiply-adds: OpenBLAS multiplies those with its
    /// small-matrix kernels, without packing `B`, and a layer of few channels loses half its speed
    /// to the packing. Measured on this machine's OpenBLAS (`eqprop bench --preset conv-mnist
    /// --train-limit 1000 --epochs 1 --threads 1`, 32 × 400 · 400 × n products): an epoch of 2.11 s
    /// with 32 columns, 2.14 s with 64, 2.17–2.22 s with this rule's 40, 2.57 s with 100 and
    /// 2.62–2.71 s with all 1,568 of a batch (3.12–3.13 s with one product per example, unfolded
    /// one by one); with 64 × 800 kernels (`--layers 1x28x28,32x14x14,64x7x7,10`) one product of
    /// all the columns was fastest.
    @inline(__always)
    private static func convolutionGEMM(transposeA: Bool, m: Int, n: Int, k: Int, alpha: Scalar, a: UnsafePointer<Scalar>, lda: Int,
                                        b: UnsafePointer<Scalar>, ldb: Int, c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        let chunk = m * k * 32 <= 1 << 19 ? Swift.max(32, (1 << 19) / (m * k)) : n
        for start in Swift.stride(from: 0, to: n, by: chunk) {
            countedGEMM(transposeA: transposeA, transposeB: false, m: m, n: Swift.min(chunk, n - start), k: k, alpha: alpha, a: a, lda: lda,
                        b: b + start, ldb: ldb, beta: 0, c: c + start, ldc: ldc)
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
