import LinearAlgebra

/// The interaction of a convolutional Hopfield network (Ernoult et al. 2019; the deep convolutional
/// Hopfield networks of Scellier et al. 2023) between a `C_in × H × W` layer and the
/// `C_out × H' × W'` layer its convolution lands on:
///
/// `E_kl = −Σ_batch ⟨s_l, conv(s_k; W)⟩`,
///
/// with `W` of shape `C_out × (C_in·k·k)` (`LinearAlgebra.ConvolutionGeometry`). It is bilinear like
/// ``DenseInteraction``, whose weight matrix it replaces by the convolution's sparse, shared one:
/// `∂E/∂s_l = −conv(s_k; W)`, `∂E/∂s_k = −convᵀ(s_l; W)`, `∂E/∂W = −Σ_batch s_l · unfold(s_k)ᵀ`.
///
/// With max pooling inside the interaction (Ernoult et al. 2019, Laborieux et al. 2021), the upper
/// layer meets the pooled convolution:
///
/// `E_kl = −Σ_batch ⟨s_l, P(conv(s_k; W))⟩`,
///
/// `LinearAlgebra.MaxPooling`'s `P` taking each window's largest entry. Where every window's largest entry is
/// unique, `P` is near `s_k` the selection `P_A` of those entries, and the term is bilinear as
/// above with `conv` replaced by `P_A ∘ conv`: `∂E/∂s_l = −P(conv(s_k))`,
/// `∂E/∂s_k = −convᵀ(P_Aᵀ s_l)`, `∂E/∂W = −Σ_batch P_Aᵀ(s_l) · unfold(s_k)ᵀ`, and the second
/// derivatives are those of the bilinear term with `P_A` frozen. What pooling changes:
/// - the energy is only piecewise smooth: not differentiable where a window's largest entry is tied
///   (``kinks(at:freeLayers:)``, reported by the gradient check's hypotheses), and its
///   Hessian jumps where the largest entry changes place;
/// - it is no longer linear in the lower layer: `−⟨s_l, P(conv(s_k))⟩` with `s_l ≥ 0` is concave in
///   `s_k` (minus a maximum of linear functions), so the exact block minimizer, which sets a layer
///   to the minimiser of a one-dimensional quadratic per unit, does not apply to that layer
///   (``layerCurvature(ofLayer:)`` is `nil` there and the minimizer refuses the energy);
/// - EP's theorem still holds where the free fixed point is a strict minimum inside one piece
///   (no tie), for nudges small enough that no window's largest entry changes place.
public struct ConvolutionInteraction<Scalar: BLASScalar>: EnergyTerm {
    public let lower: Int
    public let upper: Int
    public let geometry: ConvolutionGeometry
    /// Max pooling of the convolution's output (`nil`: none), whose output is the upper layer.
    public let pooling: MaxPooling?
    public var weight: Matrix<Scalar>

    public init(lower: Int, upper: Int, geometry: ConvolutionGeometry, pooling: MaxPooling? = nil, weight: Matrix<Scalar>) {
        precondition(lower != upper, "an interaction connects two different layers")
        precondition(geometry.problem == nil, geometry.problem ?? "")
        precondition(weight.rows == geometry.outputChannels && weight.columns == geometry.patchSize,
                     "a convolution's weight is C_out × (C_in·k·k)")
        if let pooling {
            precondition(pooling.problem == nil && pooling.inputUnits == geometry.outputUnits
                         && pooling.channels == geometry.outputChannels && pooling.height == geometry.outputHeight,
                         "the pooling's windows tile the convolution's output")
        }
        self.lower = lower
        self.upper = upper
        self.geometry = geometry
        self.pooling = pooling
        self.weight = weight
    }

    public var name: String { "C\(lower)-\(upper)" }

    public var layers: [Int] { [lower, upper] }

    /// Linear in each layer's state, the other fixed; with pooling, not in the lower layer's (concave).
    public func layerCurvature(ofLayer k: Int) -> Double? { k == lower && pooling != nil ? nil : 0 }

    /// `∂²E/∂s_k∂s_l` is the convolution (with a minus sign), of norm `‖conv(·; W)‖₂`, when both
    /// layers are free (`LinearAlgebra.ConvolutionGeometry.spectralNorm(of:iterations:)`). With pooling it is `−P_A ∘ conv`, whose norm
    /// is at most that: `P_A` keeps one distinct entry per window, so `‖P_A‖₂ = 1`.
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? {
        guard freeLayers.contains(lower), freeLayers.contains(upper) else { return [] }
        let norm = geometry.spectralNorm(of: weight)
        return [CurvatureBound(row: lower, column: upper, norm: norm), CurvatureBound(row: upper, column: lower, norm: norm)]
    }

    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [k == lower ? upper : lower] }

    /// `conv(x; W)`.
    private func convolution(of x: Matrix<Scalar>) -> Matrix<Scalar> {
        var convolved = Matrix<Scalar>(rows: x.rows, columns: geometry.outputUnits)
        convolved.addConvolution(of: x, by: weight, geometry: geometry)
        return convolved
    }

    /// Where each pooling window's largest entry is at `state` (`P_A`), `nil` without pooling.
    private func choice(at state: NetworkState<Scalar>) -> MaxPooling.Choice? {
        pooling?.pool(convolution(of: state.layers[lower])).choice
    }

    public func energy(at state: NetworkState<Scalar>) -> Double {
        let convolved = convolution(of: state.layers[lower])
        return -(pooling.map { $0.pool(convolved).pooled } ?? convolved).dot(state.layers[upper])
    }

    /// `∂E/∂s_k = −convᵀ(P_Aᵀ s_l; W)`, `∂E/∂s_l = −P_A conv(s_k; W)` (`P_A` the identity without pooling).
    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        if k == upper, let pooling {
            // P(conv(s_k)) directly: the Hessian product would convolve s_k once for P_A and again as the direction.
            gradient.add(pooling.pool(convolution(of: state.layers[lower])).pooled, scaledBy: -1)
        } else {
            accumulateHessianProduct(ofLayer: k, at: state, direction: state, into: &gradient)
        }
    }

    /// Bilinear (in each piece, with pooling): the Hessian-vector product is the gradient with the
    /// direction in place of the state, `P_A` that of the state.
    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>,
        into product: inout Matrix<Scalar>
    ) {
        let choice = choice(at: state)
        if k == lower {
            product.addTransposedConvolution(of: upward(direction.layers[upper], choice: choice), by: weight, geometry: geometry, alpha: -1)
        } else if let pooling, let choice {
            product.add(pooling.select(convolution(of: direction.layers[lower]), at: choice), scaledBy: -1)
        } else {
            product.addConvolution(of: direction.layers[lower], by: weight, geometry: geometry, alpha: -1)
        }
    }

    /// The pooling windows whose largest entry is tied at `state` in a way that makes the energy not
    /// differentiable there: any tie when the lower layer is free; when it is clamped, a tie between
    /// positions whose patches differ (a tie between equal patches, as over an image's blank
    /// background, leaves `E` smooth in `W` and in `s_l`). Zero without pooling.
    public func kinks(at state: NetworkState<Scalar>, freeLayers: Set<Int>) -> Int {
        guard let pooling else { return 0 }
        let convolved = convolution(of: state.layers[lower])
        var patches = [Scalar](repeating: 0, count: geometry.patchSize * geometry.outputPixels)
        var tied = 0
        for example in 0..<state.batchSize {
            let row = Array(convolved.elements[(example * geometry.outputUnits)..<((example + 1) * geometry.outputUnits)])
            state.layers[lower].elements.withUnsafeBufferPointer { x in
                geometry.unfold(batch: 1, x.baseAddress! + example * geometry.inputUnits, into: &patches)
            }
            for window in pooling.windows {
                let largest = window.map { row[$0] }.max()!
                let places = window.filter { row[$0] == largest }.map { $0 % geometry.outputPixels }
                guard places.count > 1 else { continue }
                let patchesDiffer = places.dropFirst().contains { place in
                    (0..<geometry.patchSize).contains { patches[$0 * geometry.outputPixels + place] != patches[$0 * geometry.outputPixels + places[0]] }
                }
                if freeLayers.contains(lower) || patchesDiffer { tied += 1 }
            }
        }
        return tied
    }

    public var parameters: [Matrix<Scalar>] {
        get { [weight] }
        set { weight = newValue[0] }
    }

    /// The weight as PyTorch lays out a convolution's: `[C_out, C_in, k, k]`.
    public var parameterShapes: [[Int]] { [Connection.convolution(geometry).weightShape(weight)] }

    /// `∂E/∂W = −Σ_batch P_Aᵀ(s_l) · unfold(s_k)ᵀ`.
    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        var gradient = Matrix<Scalar>(rows: weight.rows, columns: weight.columns)
        gradient.addConvolutionWeightGradient(output: upward(state.layers[upper], choice: choice(at: state)), input: state.layers[lower],
                                              geometry: geometry, alpha: -1)
        return [gradient]
    }

    /// `(∂²E/∂W∂s)·v = −Σ_batch (P_Aᵀ(v_l) · unfold(s_k)ᵀ + P_Aᵀ(s_l) · unfold(v_k)ᵀ)`; a side whose `v`
    /// is zero (a clamped layer) is skipped.
    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        var derivative = Matrix<Scalar>(rows: weight.rows, columns: weight.columns)
        let choice = choice(at: state)
        if !direction.layers[upper].isZero {
            derivative.addConvolutionWeightGradient(output: upward(direction.layers[upper], choice: choice), input: state.layers[lower],
                                                    geometry: geometry, alpha: -1)
        }
        if !direction.layers[lower].isZero {
            derivative.addConvolutionWeightGradient(output: upward(state.layers[upper], choice: choice), input: direction.layers[lower],
                                                    geometry: geometry, alpha: -1)
        }
        return [derivative]
    }

    /// `P_Aᵀ(y)`, an upper-layer batch placed on the convolution's output (itself without pooling).
    private func upward(_ y: Matrix<Scalar>, choice: MaxPooling.Choice?) -> Matrix<Scalar> {
        if let pooling, let choice { pooling.route(y, to: choice) } else { y }
    }
}
