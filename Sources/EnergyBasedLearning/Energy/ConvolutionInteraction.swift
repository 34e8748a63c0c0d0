import LinearAlgebra

/// The interaction of a convolutional Hopfield network (Ernoult et al. 2019; the deep convolutional
/// Hopfield networks of Scellier et al. 2023) between a `C_in × H × W` layer and the
/// `C_out × H' × W'` layer its convolution lands on:
///
/// `E_kl = −Σ_batch ⟨s_l, conv(s_k; W)⟩`,
///
/// with `W` of shape `C_out × (C_in·k·k)` (``ConvolutionGeometry``). It is bilinear like
/// ``DenseInteraction``, whose weight matrix it replaces by the convolution's sparse, shared one:
/// `∂E/∂s_l = −conv(s_k; W)`, `∂E/∂s_k = −convᵀ(s_l; W)`, `∂E/∂W = −Σ_batch s_l · unfold(s_k)ᵀ`.
public struct ConvolutionInteraction<Scalar: BLASScalar>: EnergyTerm {
    public let lower: Int
    public let upper: Int
    public let geometry: ConvolutionGeometry
    public var weight: Matrix<Scalar>

    public init(lower: Int, upper: Int, geometry: ConvolutionGeometry, weight: Matrix<Scalar>) {
        precondition(lower != upper, "an interaction connects two different layers")
        precondition(geometry.problem == nil, geometry.problem ?? "")
        precondition(weight.rows == geometry.outputChannels && weight.columns == geometry.patchSize,
                     "a convolution's weight is C_out × (C_in·k·k)")
        self.lower = lower
        self.upper = upper
        self.geometry = geometry
        self.weight = weight
    }

    public var name: String { "C\(lower)-\(upper)" }

    public var layers: [Int] { [lower, upper] }

    /// Linear in each layer's state, the other fixed.
    public func layerCurvature(ofLayer k: Int) -> Double? { 0 }

    /// `∂²E/∂s_k∂s_l` is the convolution (with a minus sign), of norm `‖conv(·; W)‖₂`, when both
    /// layers are free (``spectralNorm(iterations:)``).
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? {
        guard freeLayers.contains(lower), freeLayers.contains(upper) else { return [] }
        let norm = spectralNorm()
        return [CurvatureBound(row: lower, column: upper, norm: norm), CurvatureBound(row: upper, column: lower, norm: norm)]
    }

    /// The largest singular value of the convolution as a linear map from the lower layer's units to
    /// the upper layer's, by `iterations` steps of the power method on `convᵀ∘conv` from a fixed
    /// start (deterministic; the estimate approaches the norm from below, as
    /// ``Matrix/spectralNorm(iterations:)`` does for a dense weight). A convolution's top singular
    /// values lie close together (neighbouring spatial frequencies), so the power method needs more
    /// steps than a dense weight's: 30 left a small network's bound 3% short, 300 do not.
    public func spectralNorm(iterations: Int = 300) -> Double {
        var v = Matrix<Scalar>(rows: 1, columns: geometry.inputUnits, elements: (0..<geometry.inputUnits).map { Scalar(1) + Scalar($0 % 7) / 7 })
        var norm = 0.0
        for _ in 0..<iterations {
            let length = v.dot(v).squareRoot()
            guard length > 0 else { return 0 }
            v.scale(by: Scalar(1 / length))
            var u = Matrix<Scalar>(rows: 1, columns: geometry.outputUnits)
            u.addConvolution(of: v, by: weight, geometry: geometry)
            norm = u.dot(u).squareRoot()
            v = Matrix(rows: 1, columns: geometry.inputUnits)
            v.addTransposedConvolution(of: u, by: weight, geometry: geometry)
        }
        return norm
    }

    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [k == lower ? upper : lower] }

    public func energy(at state: NetworkState<Scalar>) -> Double {
        var convolved = Matrix<Scalar>(rows: state.batchSize, columns: geometry.outputUnits)
        convolved.addConvolution(of: state.layers[lower], by: weight, geometry: geometry)
        return -convolved.dot(state.layers[upper])
    }

    /// `∂E/∂s_k = −convᵀ(s_l; W)`, `∂E/∂s_l = −conv(s_k; W)`.
    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        accumulateHessianProduct(ofLayer: k, at: state, direction: state, into: &gradient)
    }

    /// Bilinear: the Hessian-vector product is the gradient evaluated at the direction.
    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>,
        into product: inout Matrix<Scalar>
    ) {
        if k == lower {
            product.addTransposedConvolution(of: direction.layers[upper], by: weight, geometry: geometry, alpha: -1)
        } else {
            product.addConvolution(of: direction.layers[lower], by: weight, geometry: geometry, alpha: -1)
        }
    }

    public var parameters: [Matrix<Scalar>] {
        get { [weight] }
        set { weight = newValue[0] }
    }

    /// The weight as PyTorch lays out a convolution's: `[C_out, C_in, k, k]`.
    public var parameterShapes: [[Int]] {
        [[geometry.outputChannels, geometry.inputChannels, geometry.kernel, geometry.kernel]]
    }

    /// `∂E/∂W = −Σ_batch s_l · unfold(s_k)ᵀ`.
    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        var gradient = Matrix<Scalar>(rows: weight.rows, columns: weight.columns)
        gradient.addConvolutionWeightGradient(output: state.layers[upper], input: state.layers[lower], geometry: geometry, alpha: -1)
        return [gradient]
    }

    /// `(∂²E/∂W∂s)·v = −Σ_batch (v_l · unfold(s_k)ᵀ + s_l · unfold(v_k)ᵀ)`; a side whose `v` is zero (a
    /// clamped layer) is skipped.
    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        var derivative = Matrix<Scalar>(rows: weight.rows, columns: weight.columns)
        if !direction.layers[upper].isZero {
            derivative.addConvolutionWeightGradient(output: direction.layers[upper], input: state.layers[lower], geometry: geometry, alpha: -1)
        }
        if !direction.layers[lower].isZero {
            derivative.addConvolutionWeightGradient(output: state.layers[upper], input: direction.layers[lower], geometry: geometry, alpha: -1)
        }
        return [derivative]
    }
}
