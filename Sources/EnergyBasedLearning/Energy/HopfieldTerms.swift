import LinearAlgebra

/// The leak term of a layer: `E_k = ½‖s_k‖²`, summed over the batch.
///
/// Its state is kept in the box `[0, 1]` where the hard sigmoid `ρ(s) = clip(s, 0, 1)` is the
/// identity, so this equals the paper's `½‖ρ(s_k)‖²`; the nonlinearity is the projection onto
/// the box performed by the dynamics.
public struct QuadraticLeak<Scalar: BLASScalar>: EnergyTerm {
    public let layer: Int

    public init(layer: Int) { self.layer = layer }

    public var name: String { "leak\(layer)" }

    /// `∂²E_k/∂s_k² = I`.
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? {
        freeLayers.contains(layer) ? [CurvatureBound(row: layer, column: layer, norm: 1)] : []
    }

    public var layers: [Int] { [layer] }

    /// `½‖s_k‖²`: curvature 1.
    public func layerCurvature(ofLayer k: Int) -> Double? { 1 }

    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [layer] }

    public func energy(at state: NetworkState<Scalar>) -> Double {
        0.5 * state.layers[layer].dot(state.layers[layer])
    }

    /// `∂E_k/∂s_k = s_k`.
    @_specialize(where Scalar == Float)
    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        gradient.add(state.layers[layer])
    }

    /// `∂²E_k/∂s_k² = I`.
    @_specialize(where Scalar == Float)
    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>,
        into product: inout Matrix<Scalar>
    ) {
        product.add(direction.layers[layer])
    }

    public var parameters: [Matrix<Scalar>] {
        get { [] }
        set { precondition(newValue.isEmpty, "a leak term has no parameters") }
    }

    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] { [] }

    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] { [] }
}

/// A layer's bias: `E_k = −b_k · s_k`, summed over the batch (the paper's `−b_k·ρ(s_k)` on the box).
///
/// A `C × H × W` layer has one bias per channel, shared by its `H·W` pixels as a convolution's
/// kernels are: `E_k = −Σ_batch Σ_c b_c Σ_pixels s_k[c, ·]` (`pixels` > 1; a layer of units is the case
/// of one pixel per channel).
public struct Bias<Scalar: BLASScalar>: EnergyTerm {
    public let layer: Int
    /// The units that share each bias: `H·W` for a channel, 1 for a layer of units.
    public let pixels: Int
    /// The bias `b_k`, a `1 × size` row (`1 × C` for a layer of channels).
    public var bias: Matrix<Scalar>

    public init(layer: Int, bias: Matrix<Scalar>, pixels: Int = 1) {
        precondition(bias.rows == 1 && pixels > 0, "a bias is a 1×n row, each shared by at least one unit")
        self.layer = layer
        self.pixels = pixels
        self.bias = bias
    }

    public var name: String { "b\(layer)" }

    /// In the zero-feedback limit, the bias of layer `k`'s pre-activation (a layer of units).
    public var feedForwardPart: FeedForwardPart<Scalar>? { pixels == 1 ? .bias(layer: layer, bias) : nil }

    /// Linear in the state: no curvature.
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? { [] }

    /// Linear in `s_k`.
    public func layerCurvature(ofLayer k: Int) -> Double? { 0 }

    public var layers: [Int] { [layer] }

    /// `∂E_k/∂s_k = −b_k` depends on no state: a relaxation computes it once.
    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [] }

    public func energy(at state: NetworkState<Scalar>) -> Double {
        -sharedSums(of: state.layers[layer]).dot(bias)
    }

    /// `∂E_k/∂s_k[c, p] = −b_c`.
    @_specialize(where Scalar == Float)
    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        gradient.addToEveryRow(bias.repeatingEach(pixels), scaledBy: -1)
    }

    /// The energy is linear in the state: no curvature.
    @_specialize(where Scalar == Float)
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
        var gradient = sharedSums(of: state.layers[layer])
        gradient.scale(by: -1)
        return [gradient]
    }

    /// `(∂²E_k/∂b_k∂s_k)·v = −Σ_batch Σ_pixels v_k`.
    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        parameterGradients(at: direction)
    }

    /// `Σ_batch Σ_pixels s[c, ·]` for each bias `c`, a `1 × bias.columns` row.
    private func sharedSums(of state: Matrix<Scalar>) -> Matrix<Scalar> { state.columnSums().groupSums(pixels) }
}

/// The symmetric interaction between two layers: `E_kl = −Σ_batch s_k W s_lᵀ`, with `W` of
/// shape `size(k) × size(l)`.
public struct DenseInteraction<Scalar: BLASScalar>: EnergyTerm {
    public let lower: Int
    public let upper: Int
    public var weight: Matrix<Scalar> {
        // A kept transpose follows every change of the weight, however it is made.
        didSet { transposedWeight = transposedWeight.map { _ in weight.transposed } }
    }
    /// Whether the relaxations this term serves clamp the lower layer (the input): its drive
    /// `x·W` is then computed once per relaxation, visiting only the input's nonzeros when it is
    /// mostly zeros (``Matrix/multiplyAddSkippingZeros(_:_:alpha:)``).
    private var lowerIsClamped = false
    /// `Wᵀ`, kept for the relaxations this term serves when the weight has few columns (see
    /// ``Matrix/prefersTransposedOperand(_:)``): their two products then read `W` in the layout
    /// OpenBLAS multiplies faster.
    private var transposedWeight: Matrix<Scalar>?

    public init(lower: Int, upper: Int, weight: Matrix<Scalar>) {
        precondition(lower != upper, "an interaction connects two different layers")
        self.lower = lower
        self.upper = upper
        self.weight = weight
    }

    public var name: String { "W\(lower)-\(upper)" }

    public var layers: [Int] { [lower, upper] }

    /// In the zero-feedback limit, the weight from layer `k` to layer `l`.
    public var feedForwardPart: FeedForwardPart<Scalar>? { .weight(lower: lower, upper: upper, weight) }

    /// `∂²E_kl/∂s_k∂s_l = −W`, of norm `‖W‖₂`, when both layers are free.
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? {
        guard freeLayers.contains(lower), freeLayers.contains(upper) else { return [] }
        let norm = weight.spectralNorm()
        return [CurvatureBound(row: lower, column: upper, norm: norm), CurvatureBound(row: upper, column: lower, norm: norm)]
    }

    /// Linear in each layer's state, the other fixed (the layers differ).
    public func layerCurvature(ofLayer k: Int) -> Double? { 0 }

    /// The gradient with respect to one layer depends only on the other one.
    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [k == lower ? upper : lower] }

    public func energy(at state: NetworkState<Scalar>) -> Double {
        -Matrix.product(state.layers[lower], weight).dot(state.layers[upper])
    }

    /// `∂E_kl/∂s_k = −s_l Wᵀ`, `∂E_kl/∂s_l = −s_k W`.
    @_specialize(where Scalar == Float)
    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        accumulateHessianProduct(ofLayer: k, at: state, direction: state, into: &gradient)
    }

    /// The gradient is linear in the other layer's state, so the Hessian-vector product is the
    /// gradient evaluated at the direction: `−v_l Wᵀ` or `−v_k W`.
    @_specialize(where Scalar == Float)
    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>,
        into product: inout Matrix<Scalar>
    ) {
        switch (k == lower, transposedWeight) {
        case (true, let transposed?):
            product.multiplyAdd(direction.layers[upper], transposed, alpha: -1)
        case (true, nil):
            product.multiplyAdd(direction.layers[upper], weight, transposeB: true, alpha: -1)
        case (false, _) where lowerIsClamped:
            product.multiplyAddSkippingZeros(direction.layers[lower], weight, alpha: -1)
        case (false, let transposed?):
            product.multiplyAdd(direction.layers[lower], transposed, transposeB: true, alpha: -1)
        case (false, nil):
            product.multiplyAdd(direction.layers[lower], weight, alpha: -1)
        }
    }

    /// The same term, told whether its lower layer is clamped, with `Wᵀ` kept when OpenBLAS
    /// multiplies by it faster.
    public func specialized(clamping clampedLayers: Set<Int>, at state: NetworkState<Scalar>) -> any EnergyTerm<Scalar> {
        var term = self
        term.lowerIsClamped = clampedLayers.contains(lower)
        term.transposedWeight = Matrix.prefersTransposedOperand(weight) ? weight.transposed : nil
        return term
    }

    public var parameters: [Matrix<Scalar>] {
        get { [weight] }
        set { weight = newValue[0] }
    }

    /// `∂E_kl/∂W = −s_kᵀ s_l`.
    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        var gradient = Matrix<Scalar>(rows: weight.rows, columns: weight.columns)
        gradient.multiplyAdd(state.layers[lower], state.layers[upper], transposeA: true, alpha: -1, beta: 0)
        return [gradient]
    }

    /// `(∂²E_kl/∂W∂s)·v = −(v_kᵀ s_l + s_kᵀ v_l)`; a product whose `v` side is zero (a clamped
    /// layer) is skipped.
    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        var derivative = Matrix<Scalar>(rows: weight.rows, columns: weight.columns)
        if !direction.layers[lower].isZero {
            derivative.multiplyAdd(direction.layers[lower], state.layers[upper], transposeA: true, alpha: -1)
        }
        if !direction.layers[upper].isZero {
            derivative.multiplyAdd(state.layers[lower], direction.layers[upper], transposeA: true, alpha: -1)
        }
        return [derivative]
    }

    /// `W ← W + η (a_kᵀ a_l − b_kᵀ b_l)`, computed as `a_kᵀ(a_l − b_l) + (a_k − b_k)ᵀ b_l`: two
    /// GEMMs into `W`; one when layer `k` is the same in both states (a clamped input), which
    /// visits only the input's nonzeros when it is mostly zeros (an image's background: the rows of
    /// `W` of pixels no example lights are not touched).
    @_specialize(where Scalar == Float)
    public mutating func descendContrast(between a: NetworkState<Scalar>, and b: NetworkState<Scalar>, stepSize: Scalar) {
        let (aLower, bLower) = (a.layers[lower], b.layers[lower])
        if aLower == bLower {
            weight.multiplyAddSkippingZeros(transposing: aLower, a.layers[upper] - b.layers[upper], alpha: stepSize)
        } else {
            weight.multiplyAdd(aLower, a.layers[upper] - b.layers[upper], transposeA: true, alpha: stepSize)
            weight.multiplyAdd(aLower - bLower, b.layers[upper], transposeA: true, alpha: stepSize)
        }
    }
}
