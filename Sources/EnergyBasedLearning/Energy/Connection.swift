import LinearAlgebra

/// How a layer's state `x` drives the next layer's pre-activation through a weight `W`, a map
/// linear in `x` and in `W`:
///
/// - ``dense``: `x·W`, `W` of shape `size(l−1) × size(l)`;
/// - ``convolution(_:)``: `conv(x; W)`, `W` of shape `C_out × (C_in·k·k)` (`LinearAlgebra.ConvolutionGeometry`),
///   the next layer `C_out × H' × W'`, its bias one per channel shared by the channel's pixels.
///
/// A prediction (``PredictionError``) needs the map, its adjoint (`g·Wᵀ`, `convᵀ(g; W)`) and its
/// derivative in `W` (`xᵀg`, `Σ_batch g_b·unfold(x_b)ᵀ`).
public enum Connection: Sendable, Equatable {
    case dense
    case convolution(ConvolutionGeometry)

    /// `map(x; W)`.
    public func image<Scalar: BLASScalar>(of x: Matrix<Scalar>, by weight: Matrix<Scalar>) -> Matrix<Scalar> {
        switch self {
        case .dense:
            return Matrix.product(x, weight)
        case let .convolution(geometry):
            var image = Matrix<Scalar>(rows: x.rows, columns: geometry.outputUnits)
            image.addConvolution(of: x, by: weight, geometry: geometry)
            return image
        }
    }

    /// `gradient ← gradient + α·mapᵀ(g; W)`: `α·g·Wᵀ` or `α·convᵀ(g; W)`.
    public func addAdjoint<Scalar: BLASScalar>(of g: Matrix<Scalar>, by weight: Matrix<Scalar>, into gradient: inout Matrix<Scalar>, alpha: Scalar) {
        switch self {
        case .dense: gradient.multiplyAdd(g, weight, transposeB: true, alpha: alpha)
        case let .convolution(geometry): gradient.addTransposedConvolution(of: g, by: weight, geometry: geometry, alpha: alpha)
        }
    }

    /// `gradient ← gradient + α·∂⟨g, map(x; W)⟩/∂W`: `α·xᵀg` or `α·Σ_batch g_b·unfold(x_b)ᵀ`.
    public func addWeightGradient<Scalar: BLASScalar>(input x: Matrix<Scalar>, output g: Matrix<Scalar>, into gradient: inout Matrix<Scalar>,
                                                      alpha: Scalar) {
        switch self {
        case .dense: gradient.multiplyAdd(x, g, transposeA: true, alpha: alpha)
        case let .convolution(geometry): gradient.addConvolutionWeightGradient(output: g, input: x, geometry: geometry, alpha: alpha)
        }
    }

    /// `‖map(·; W)‖₂`, by the power method (`LinearAlgebra.Matrix.spectralNorm(iterations:)`,
    /// `LinearAlgebra.ConvolutionGeometry.spectralNorm(of:iterations:)`).
    public func norm<Scalar: BLASScalar>(of weight: Matrix<Scalar>) -> Double {
        switch self {
        case .dense: weight.spectralNorm()
        case let .convolution(geometry): geometry.spectralNorm(of: weight)
        }
    }

    /// A Glorot-uniform weight, `U(±√(6/(fan-in + fan-out)))`, between a layer of `lowerUnits` and
    /// one of `upperUnits` (dense), or with a convolution's fans `C_in·k·k` and `C_out·k·k` (as
    /// PyTorch and Keras count them).
    public func glorotUniformWeight<Scalar: BLASScalar, G: RandomNumberGenerator>(lowerUnits: Int, upperUnits: Int,
                                                                                 using generator: inout G) -> Matrix<Scalar> {
        switch self {
        case .dense:
            return .glorotUniform(fanIn: lowerUnits, fanOut: upperUnits, using: &generator)
        case let .convolution(g):
            let limit = Scalar(Double.sqrt(6 / Double((g.inputChannels + g.outputChannels) * g.kernel * g.kernel)))
            return .uniform(rows: g.outputChannels, columns: g.patchSize, in: -limit...limit, using: &generator)
        }
    }

    /// The shape of a weight as saved: `[rows, columns]`, or `[C_out, C_in, k, k]` as PyTorch lays
    /// out a convolution's.
    public func weightShape<Scalar: BLASScalar>(_ weight: Matrix<Scalar>) -> [Int] {
        switch self {
        case .dense: [weight.rows, weight.columns]
        case let .convolution(g): [g.outputChannels, g.inputChannels, g.kernel, g.kernel]
        }
    }

    /// The units of the next layer that share each bias: 1, or a channel's `H'·W'` pixels.
    public var pixelsPerBias: Int {
        switch self {
        case .dense: 1
        case let .convolution(geometry): geometry.outputPixels
        }
    }
}
