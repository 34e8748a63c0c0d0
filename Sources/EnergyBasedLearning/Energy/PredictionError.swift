import LinearAlgebra

/// The prediction error of one layer in a predictive-coding network:
///
/// `E_l = ½ π_l Σ_batch ‖x_l − f(x_{l−1} W_l + b_l)‖²`,
///
/// with `W_l` of shape `size(l−1) × size(l)`, bias `b_l`, activation `f` and precision `π_l`.
/// Writing `a = x_{l−1}W_l + b_l`, `e = x_l − f(a)` and `g = e ⊙ f′(a)`:
/// `∂E/∂x_l = π e`, `∂E/∂x_{l−1} = −π g W_lᵀ`, `∂E/∂W_l = −π x_{l−1}ᵀ g`, `∂E/∂b_l = −π Σ g`.
///
/// With a convolutional ``connection``, `x_{l−1}W_l` is `conv(x_{l−1}; W_l)` and `b_l` one bias per
/// channel (`½π‖x_l − f(conv(x_{l−1}; W) + b)‖²`, the convolutional predictive-coding layer):
/// `g Wᵀ` becomes `convᵀ(g; W)`, `x_{l−1}ᵀ g` becomes `Σ_batch g·unfold(x_{l−1})ᵀ`, and `Σ g` is
/// also summed over each channel's pixels.
public struct PredictionError<Scalar: BLASScalar>: FeedForwardTerm {
    /// The predicting layer `l − 1`.
    public let lower: Int
    /// The predicted layer `l`.
    public let upper: Int
    /// Dense or convolutional.
    public let connection: Connection
    public var weight: Matrix<Scalar>
    public var bias: Matrix<Scalar>
    public var activation: Activation
    public var precision: Scalar
    /// `f(a)`, `f′(a)`, `f″(a)` precomputed when the predicting layer is clamped (see
    /// ``specialized(clamping:at:)``).
    private var clampedPrediction: (value: Matrix<Scalar>, derivative: Matrix<Scalar>, secondDerivative: Matrix<Scalar>?)?

    public init(lower: Int, upper: Int, connection: Connection = .dense, weight: Matrix<Scalar>, bias: Matrix<Scalar>, activation: Activation,
                precision: Scalar = 1) {
        precondition(lower != upper, "a prediction connects two different layers")
        precondition(bias.rows == 1 && bias.columns == (connection == .dense ? weight.columns : weight.rows),
                     "the bias is a 1 × size(l) row (1 × C_out for a convolution)")
        precondition(precision > 0, "the precision π must be positive")
        self.lower = lower
        self.upper = upper
        self.connection = connection
        self.weight = weight
        self.bias = bias
        self.activation = activation
        self.precision = precision
    }

    public var name: String { "W\(lower)-\(upper)" }
    /// The prediction's weights and bias: `W0-1` and `b1` for layer 1.
    public var parameterNames: [String] { ["W\(lower)-\(upper)", "b\(upper)"] }

    public var layers: [Int] { [lower, upper] }

    /// A convolution's weight as `[C_out, C_in, k, k]`.
    public var parameterShapes: [[Int]] { [connection.weightShape(weight), [bias.rows, bias.columns]] }

    /// With `|f′| ≤ m`: `π` for layer `l`, `π m² ‖W‖₂²` for layer `l − 1` and `π m ‖W‖₂` between
    /// them (the term `π e ⊙ f″` of curved activations aside).
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? {
        var bounds: [CurvatureBound] = []
        if freeLayers.contains(upper) { bounds.append(CurvatureBound(row: upper, column: upper, norm: Double(precision))) }
        guard freeLayers.contains(lower) else { return bounds }
        let slopeTimesNorm = activation.maximumSlope * connection.norm(of: weight)
        let coupling = Double(precision) * slopeTimesNorm
        bounds.append(CurvatureBound(row: lower, column: lower, norm: coupling * slopeTimesNorm))
        if freeLayers.contains(upper) {
            bounds += [CurvatureBound(row: lower, column: upper, norm: coupling), CurvatureBound(row: upper, column: lower, norm: coupling)]
        }
        return bounds
    }

    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [lower, upper] }

    /// `a = x_{l−1}W + b`.
    private func preactivation(at state: NetworkState<Scalar>) -> Matrix<Scalar> {
        var preactivation = connection.image(of: state.layers[lower], by: weight)
        preactivation.addToEveryRow(bias.repeatingEach(connection.pixelsPerBias))
        return preactivation
    }

    /// `f(a)` and `f′(a)` (and `f″(a)` when asked) at `a = x_{l−1}W + b`.
    func prediction(at state: NetworkState<Scalar>, secondDerivative: Bool)
        -> (value: Matrix<Scalar>, derivative: Matrix<Scalar>, secondDerivative: Matrix<Scalar>?)
    {
        if let clampedPrediction { return clampedPrediction }
        return activation.evaluate(preactivation(at: state), secondDerivative: secondDerivative)
    }

    public func prediction(at state: NetworkState<Scalar>) -> (value: Matrix<Scalar>, derivative: Matrix<Scalar>) {
        let predicted = prediction(at: state, secondDerivative: false)
        return (predicted.value, predicted.derivative)
    }

    /// `∂L/∂W = x_{l−1}ᵀ g`, `∂L/∂b = Σ_batch g` and `∂L/∂x_{l−1} = g Wᵀ`.
    public func backpropagate(_ g: Matrix<Scalar>, at state: NetworkState<Scalar>, toLowerLayer: Bool)
        -> (parameterGradients: [Matrix<Scalar>], lowerGradient: Matrix<Scalar>?)
    {
        var weightGradient = Matrix<Scalar>(rows: weight.rows, columns: weight.columns)
        connection.addWeightGradient(input: state.layers[lower], output: g, into: &weightGradient, alpha: 1)
        var lowerGradient: Matrix<Scalar>?
        if toLowerLayer {
            var gradient = Matrix<Scalar>(rows: g.rows, columns: state.layers[lower].columns)
            connection.addAdjoint(of: g, by: weight, into: &gradient, alpha: 1)
            lowerGradient = gradient
        }
        return ([weightGradient, g.columnSums().groupSums(connection.pixelsPerBias)], lowerGradient)
    }

    /// The prediction error held at `h`, `x_l = f(a) + h`: on layer `l − 1` this is the term
    /// `−π h·f(x_{l−1}W + b)` (``HeldPredictionError``).
    public func holdingError(_ error: Matrix<Scalar>) -> any EnergyTerm<Scalar> {
        HeldPredictionError(prediction: self, heldError: error)
    }

    /// `e = x_l − f(a)` and `g = e ⊙ f′(a)`, in one pass over the prediction.
    private func errors(at state: NetworkState<Scalar>) -> (error: Matrix<Scalar>, weighted: Matrix<Scalar>) {
        if let clampedPrediction {
            return state.layers[upper].predictionErrors(value: clampedPrediction.value, derivative: clampedPrediction.derivative)
        }
        var weighted = preactivation(at: state)
        let error = activation.predictionErrors(of: state.layers[upper], preactivation: &weighted)
        return (error, weighted)
    }

    public func energy(at state: NetworkState<Scalar>) -> Double {
        let error = errors(at: state).error
        return 0.5 * Double(precision) * error.dot(error)
    }

    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        let (error, weighted) = errors(at: state)
        addStateGradient(ofLayer: k, error: error, weighted: weighted, into: &gradient)
    }

    /// Both layers' gradients from one prediction: `π e` for layer `l`, `−π g Wᵀ` for layer `l − 1`.
    public func accumulateStateGradients(ofLayers layers: [Int], at state: NetworkState<Scalar>, into gradient: inout NetworkState<Scalar>) {
        let (error, weighted) = errors(at: state)
        for k in layers { addStateGradient(ofLayer: k, error: error, weighted: weighted, into: &gradient.layers[k]) }
    }

    private func addStateGradient(ofLayer k: Int, error: Matrix<Scalar>, weighted: Matrix<Scalar>, into gradient: inout Matrix<Scalar>) {
        if k == upper {
            gradient.add(error, scaledBy: precision)
        } else {
            connection.addAdjoint(of: weighted, by: weight, into: &gradient, alpha: -precision)
        }
    }

    /// With `δa = v_{l−1}W`, `δe = v_l − f′ ⊙ δa` and `δg = δe ⊙ f′ + e ⊙ f″ ⊙ δa`: `π δe` for
    /// layer `l`, `−π δg Wᵀ` for layer `l − 1`.
    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>, into product: inout Matrix<Scalar>
    ) {
        let (errorChange, weightedChange) = changes(at: state, along: direction)
        if k == upper {
            product.add(errorChange, scaledBy: precision)
        } else {
            connection.addAdjoint(of: weightedChange, by: weight, into: &product, alpha: -precision)
        }
    }

    /// `δe` and `δg` along `direction` (see ``accumulateHessianProduct(ofLayer:at:direction:into:)``).
    private func changes(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> (Matrix<Scalar>, Matrix<Scalar>) {
        let predicted = prediction(at: state, secondDerivative: true)
        let error = state.layers[upper] - predicted.value
        let preactivationChange = connection.image(of: direction.layers[lower], by: weight)
        var derivativeTimesChange = preactivationChange
        derivativeTimesChange.multiply(elementwiseBy: predicted.derivative)
        let errorChange = direction.layers[upper] - derivativeTimesChange
        var weightedChange = errorChange
        weightedChange.multiply(elementwiseBy: predicted.derivative)
        if var curvature = predicted.secondDerivative, !curvature.isZero {
            curvature.multiply(elementwiseBy: error)
            curvature.multiply(elementwiseBy: preactivationChange)
            weightedChange.add(curvature)
        }
        return (errorChange, weightedChange)
    }

    /// With the predicting layer clamped, the prediction `f(x_{l−1}W + b)` is the same at every
    /// step of a relaxation: it is computed once here (the largest product of a layered network
    /// is usually the input's).
    public func specialized(clamping clampedLayers: Set<Int>, at state: NetworkState<Scalar>) -> any EnergyTerm<Scalar> {
        guard clampedLayers.contains(lower), clampedPrediction == nil else { return self }
        var term = self
        term.clampedPrediction = prediction(at: state, secondDerivative: true)
        return term
    }

    public func restricted(to rows: [Int]) -> any EnergyTerm<Scalar> { restrictedPrediction(to: rows) }

    /// This term for the examples in `rows` only (its precomputed prediction restricted too).
    func restrictedPrediction(to rows: [Int]) -> PredictionError {
        guard let clampedPrediction else { return self }
        var term = self
        term.clampedPrediction = (clampedPrediction.value.gatheringRows(rows), clampedPrediction.derivative.gatheringRows(rows),
                                  clampedPrediction.secondDerivative?.gatheringRows(rows))
        return term
    }

    public var parameters: [Matrix<Scalar>] {
        get { [weight, bias] }
        set {
            weight = newValue[0]
            bias = newValue[1]
            clampedPrediction = nil
        }
    }

    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        let weighted = errors(at: state).weighted
        return outerGradients(state.layers[lower], weighted)
    }

    /// Where the predicting layer is the same in both states (clamped, as the input is), so is
    /// the prediction, and `g_a − g_b = (x_l^a − x_l^b) ⊙ f′(a)`: the contrast costs one prediction
    /// and one product, `−π x_{l−1}ᵀ(g_a − g_b)`, instead of two of each.
    public func parameterGradientDifference(between a: NetworkState<Scalar>, and b: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        guard a.layers[lower] == b.layers[lower] else {
            return zip(parameterGradients(at: a), parameterGradients(at: b)).map { $0 - $1 }
        }
        var weightedDifference = a.layers[upper] - b.layers[upper]
        weightedDifference.multiply(elementwiseBy: prediction(at: a).derivative)
        return outerGradients(a.layers[lower], weightedDifference)
    }

    /// `δ(∂E/∂W) = −π (v_{l−1}ᵀ g + x_{l−1}ᵀ δg)`, `δ(∂E/∂b) = −π Σ δg`.
    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        let weighted = errors(at: state).weighted
        let (_, weightedChange) = changes(at: state, along: direction)
        return outerGradients(state.layers[lower], weightedChange, plus: (direction.layers[lower], weighted))
    }

    /// `[−π (xᵀ w + x′ᵀ w′), −π Σ w]`; the product `x′ᵀ w′` only when `extra = (x′, w′)` is
    /// given and `x′` is non-zero.
    private func outerGradients(_ x: Matrix<Scalar>, _ w: Matrix<Scalar>, plus extra: (Matrix<Scalar>, Matrix<Scalar>)? = nil) -> [Matrix<Scalar>] {
        var weightGradient = Matrix<Scalar>(rows: weight.rows, columns: weight.columns)
        connection.addWeightGradient(input: x, output: w, into: &weightGradient, alpha: -precision)
        if let (left, right) = extra, !left.isZero {
            connection.addWeightGradient(input: left, output: right, into: &weightGradient, alpha: -precision)
        }
        var biasGradient = w.columnSums().groupSums(connection.pixelsPerBias)
        biasGradient.scale(by: -precision)
        return [weightGradient, biasGradient]
    }
}

extension LayeredEnergy {
    /// The predictive-coding energy of a layered network (Millidge et al. 2022):
    ///
    /// `E(x) = Σ_{l≥1} ½ π_l ‖x_l − f_l(x_{l−1} W_l + b_l)‖²`,
    ///
    /// with `f_l = hidden` for hidden layers and `output` for the last; states are unbounded. Its
    /// minimum with the input clamped and every other layer free is the feed-forward pass
    /// (`E = 0`). Weights are Glorot-uniform, biases zero.
    public static func predictiveCoding<G: RandomNumberGenerator>(
        layerSizes: [Int], hidden: Activation, output: Activation, precisions: [Scalar]? = nil, using generator: inout G
    ) -> LayeredEnergy {
        predictiveCoding(architecture: ArchitectureSpecification(layerSizes: layerSizes), hidden: hidden, output: output,
                         precisions: precisions, using: &generator)
    }

    /// The predictive-coding energy on any layered architecture without pooling (validated): each
    /// convolution predicts its upper layer as `f(conv(x_{l−1}; W) + b)`, with a bias per channel.
    public static func predictiveCoding<G: RandomNumberGenerator>(
        architecture: ArchitectureSpecification, hidden: Activation, output: Activation, precisions: [Scalar]? = nil,
        using generator: inout G
    ) -> LayeredEnergy {
        let layerSizes = architecture.layerSizes
        precondition(layerSizes.count >= 2, "a network needs an input and an output layer")
        precondition(!architecture.hasPooling, "the predictive-coding energy has no pooling: validate the specification first")
        let precisions = precisions ?? Array(repeating: 1, count: layerSizes.count - 1)
        precondition(precisions.count == layerSizes.count - 1, "one precision per predicted layer")
        let terms: [any EnergyTerm<Scalar>] = architecture.interactions.map { interaction in
            let (lower, upper) = (interaction.lower, interaction.upper)
            let connection = architecture.connection(of: interaction)
            return PredictionError(
                lower: lower, upper: upper, connection: connection,
                weight: architecture.initialWeight(of: interaction, using: &generator),
                bias: Matrix(rows: 1, columns: layerSizes[upper] / connection.pixelsPerBias),
                activation: upper == layerSizes.count - 1 ? output : hidden, precision: precisions[upper - 1])
        }
        return LayeredEnergy(layerSizes: layerSizes, terms: terms, stateBounds: Array(repeating: nil, count: layerSizes.count))
    }
}
