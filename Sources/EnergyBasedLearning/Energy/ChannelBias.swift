import LinearAlgebra

/// A bias per channel of a `C × H × W` layer, shared by its pixels as a convolution's kernels are:
/// `E_k = −Σ_batch Σ_c b_c Σ_pixels s_k[c, ·]` (the paper's `−b·ρ(s)` on the box, with `b` constant
/// over each channel).
public struct ChannelBias<Scalar: BLASScalar>: EnergyTerm {
    public let layer: Int
    /// The number of pixels of each channel, `H·W`.
    public let pixels: Int
    /// The bias `b`, a `1 × C` row.
    public var bias: Matrix<Scalar>

    public init(layer: Int, pixels: Int, bias: Matrix<Scalar>) {
        precondition(bias.rows == 1 && pixels > 0, "a channel bias is a 1×C row over channels of at least one pixel")
        self.layer = layer
        self.pixels = pixels
        self.bias = bias
    }

    public var name: String { "b\(layer)" }

    public var layers: [Int] { [layer] }

    /// Linear in the state: no curvature.
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? { [] }

    public func layerCurvature(ofLayer k: Int) -> Double? { 0 }

    /// `∂E_k/∂s_k` depends on no state: a relaxation computes it once.
    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [] }

    public func energy(at state: NetworkState<Scalar>) -> Double {
        -channelSums(of: state.layers[layer]).dot(bias)
    }

    /// `∂E_k/∂s_k[c, p] = −b_c`.
    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        gradient.addToEveryRow(Matrix(rows: 1, columns: bias.columns * pixels,
                                      elements: bias.elements.flatMap { Array(repeating: $0, count: pixels) }), scaledBy: -1)
    }

    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>,
        into product: inout Matrix<Scalar>
    ) {}

    public var parameters: [Matrix<Scalar>] {
        get { [bias] }
        set { bias = newValue[0] }
    }

    /// `∂E_k/∂b_c = −Σ_batch Σ_pixels s_k[c, ·]`.
    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        var gradient = channelSums(of: state.layers[layer])
        gradient.scale(by: -1)
        return [gradient]
    }

    /// `(∂²E_k/∂b∂s)·v = −Σ_batch Σ_pixels v_k[c, ·]`.
    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        parameterGradients(at: direction)
    }

    /// `Σ_batch Σ_pixels s[c, ·]` for each channel `c`, a `1 × C` row.
    private func channelSums(of state: Matrix<Scalar>) -> Matrix<Scalar> {
        let perUnit = state.columnSums()
        return Matrix(rows: 1, columns: bias.columns,
                      elements: (0..<bias.columns).map { c in perUnit.elements[(c * pixels)..<((c + 1) * pixels)].reduce(0, +) })
    }
}
