import LinearAlgebra

/// Backpropagation through the feed-forward network that a predictive-coding energy describes:
/// `x_l = f_l(x_{l−1} W_l + b_l)` for every ``PredictionError`` term, in order of layers.
///
/// With `δ_L = ∂C/∂x_L` and, going down, `g_l = δ_l ⊙ f_l′(a_l)`, `δ_{l−1} = g_l W_lᵀ`:
/// `dL/dW_l = x_{l−1}ᵀ g_l` and `dL/db_l = Σ_batch g_l`.
///
/// The feed-forward pass is the free equilibrium of that energy (every prediction error is
/// zero), so this is also what implicit differentiation gives there; the tests check both agree.
///
/// As a ``LearningRule`` it gives this gradient at the free state's input, so that a network can be
/// trained with backprop on the same footing as the energy-based rules.
public struct Backpropagation<Scalar: BLASScalar>: LearningRule {
    public var cost: any Cost<Scalar>
    /// Take `∂C/∂ŷ` as the gradient with respect to the output's pre-activation `a_L` (skip
    /// `f_L′`): backprop of the matching loss of the output activation, whose gradient is
    /// `f_L(a_L) − d`. This is the loss that clamping the output at the target descends
    /// (contrastive Hebbian learning, Xie & Seung 2003); for a saturated hard-sigmoid output the
    /// squared error's gradient would be zero.
    public var matchingOutputLoss: Bool

    public init(cost: any Cost<Scalar> = SquaredError(), matchingOutputLoss: Bool = false) {
        self.cost = cost
        self.matchingOutputLoss = matchingOutputLoss
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Layer `layer` is not predicted by exactly one ``PredictionError`` from the layer below.
        case notFeedForward(layer: Int)

        public var description: String {
            switch self {
            case let .notFeedForward(layer):
                return "backpropagation needs a feed-forward chain of prediction errors; layer \(layer) is not predicted by exactly one term from layer \(layer - 1)"
            }
        }
    }

    /// The chain of prediction terms, indexed by the layer they predict (1…L), with their
    /// positions in `energy.terms`.
    static func chain(of energy: LayeredEnergy<Scalar>) throws -> [(index: Int, term: PredictionError<Scalar>)] {
        try chain(of: energy.terms, layerCount: energy.layerSizes.count)
    }

    /// The chain among `terms` (an energy's, or a clamped energy's specialised terms).
    static func chain(of terms: [any EnergyTerm<Scalar>], layerCount: Int) throws -> [(index: Int, term: PredictionError<Scalar>)] {
        try (1..<layerCount).map { layer in
            let matches = terms.enumerated().compactMap { index, term in
                (term as? PredictionError<Scalar>).map { (index, $0) }
            }.filter { $0.1.upper == layer }
            guard matches.count == 1, matches[0].1.lower == layer - 1 else { throw Failure.notFeedForward(layer: layer) }
            return matches[0]
        }
    }

    /// The feed-forward network that a layered Hopfield energy (possibly weak-feedback) tends to
    /// as its feedback vanishes: `x_k = ρ(x_{k−1}W_{k−1,k} + b_k)` with the hard sigmoid `ρ`, as a
    /// predictive-coding energy with the same weights and biases (its terms in the order of the
    /// Hopfield energy's interactions).
    public static func feedForwardLimit(of hopfield: LayeredEnergy<Scalar>) throws -> LayeredEnergy<Scalar> {
        func unwrapped(_ term: any EnergyTerm<Scalar>) -> any EnergyTerm<Scalar> {
            (term as? ScaledTerm<Scalar>).map { unwrapped($0.term) } ?? term
        }
        let terms = hopfield.terms.map(unwrapped)
        let predictions: [any EnergyTerm<Scalar>] = try (1..<hopfield.layerSizes.count).map { layer in
            let interactions = terms.compactMap { $0 as? DenseInteraction<Scalar> }.filter { $0.lower == layer - 1 && $0.upper == layer }
            let biases = terms.compactMap { $0 as? Bias<Scalar> }.filter { $0.layer == layer }
            guard interactions.count == 1, biases.count <= 1 else { throw Failure.notFeedForward(layer: layer) }
            return PredictionError(lower: layer - 1, upper: layer, weight: interactions[0].weight,
                                   bias: biases.first?.bias ?? Matrix(rows: 1, columns: hopfield.layerSizes[layer]),
                                   activation: .hardSigmoid)
        }
        return LayeredEnergy(layerSizes: hopfield.layerSizes, terms: predictions, stateBounds: hopfield.stateBounds)
    }

    /// Backprop's gradient through ``feedForwardLimit(of:)`` of a layered Hopfield energy, arranged
    /// like `hopfield.terms`: `dL/dW` for each interaction, `dL/db` for each bias, nothing for a leak.
    public func gradient(ofFeedForwardLimit hopfield: LayeredEnergy<Scalar>, input: Matrix<Scalar>, target: Matrix<Scalar>) throws -> [[Matrix<Scalar>]] {
        let limit = try Self.feedForwardLimit(of: hopfield)
        let byLayer = try gradient(energy: limit, input: input, target: target)  // term l − 1 predicts layer l: [dW, db]
        return hopfield.terms.map { term in
            let layers = term.layers
            if term.parameters.isEmpty { return [] }
            if layers.count == 2 { return [byLayer[layers.max()! - 1][0]] }
            return [byLayer[layers[0] - 1][1]]
        }
    }

    /// The feed-forward pass from `input`: the state with every prediction error zero.
    public static func feedForward(_ energy: LayeredEnergy<Scalar>, input: Matrix<Scalar>) throws -> NetworkState<Scalar> {
        try feedForward(chain(of: energy), layerSizes: energy.layerSizes, input: input).state
    }

    /// The feed-forward pass from the clamped input, with the clamped energy's specialised terms
    /// (the input's prediction, computed when the input was clamped, is not computed again).
    public static func feedForward(_ energy: ClampedEnergy<Scalar>, input: Matrix<Scalar>) throws -> NetworkState<Scalar> {
        try feedForward(chain(of: energy.relaxationTerms, layerCount: energy.energy.layerSizes.count),
                        layerSizes: energy.energy.layerSizes, input: input).state
    }

    /// The feed-forward pass along `chain`, with each layer's `f′(a_l)` (layer 1 first).
    private static func feedForward(_ chain: [(index: Int, term: PredictionError<Scalar>)], layerSizes: [Int], input: Matrix<Scalar>)
        -> (state: NetworkState<Scalar>, derivatives: [Matrix<Scalar>])
    {
        var state = NetworkState(input: input, layerSizes: layerSizes)
        var derivatives: [Matrix<Scalar>] = []
        for (_, term) in chain {
            let prediction = term.prediction(at: state)
            state.layers[term.upper] = prediction.value
            derivatives.append(prediction.derivative)
        }
        return (state, derivatives)
    }

    /// `dL/dθ` (summed over the batch) for every term, in the order of `energy.terms`;
    /// `L = C(x_L, target)` at the feed-forward pass from `input`.
    public func gradient(energy: LayeredEnergy<Scalar>, input: Matrix<Scalar>, target: Matrix<Scalar>) throws -> [[Matrix<Scalar>]] {
        try gradient(along: Self.chain(of: energy), of: energy, input: input, target: target)
    }

    /// Backprop along `chain` (terms of `energy`, possibly specialised for a clamped input): one
    /// forward pass, which keeps each `f′(a_l)`, and one backward pass.
    private func gradient(along chain: [(index: Int, term: PredictionError<Scalar>)], of energy: LayeredEnergy<Scalar>,
                          input: Matrix<Scalar>, target: Matrix<Scalar>) throws -> [[Matrix<Scalar>]] {
        let (state, derivatives) = Self.feedForward(chain, layerSizes: energy.layerSizes, input: input)
        var gradients = energy.terms.map { $0.parameters.map { Matrix<Scalar>(rows: $0.rows, columns: $0.columns) } }
        var delta = Matrix<Scalar>(rows: input.rows, columns: energy.layerSizes[energy.layerSizes.count - 1])
        cost.accumulateGradient(output: state.output, target: target, scale: 1, into: &delta)
        for (index, term) in chain.reversed() {
            var g = delta
            if !(matchingOutputLoss && term.upper == chain.count) {
                g.multiply(elementwiseBy: derivatives[term.upper - 1])
            }
            gradients[index][0].multiplyAdd(state.layers[term.lower], g, transposeA: true, beta: 0)
            gradients[index][1] = g.columnSums()
            if term.lower > 0 {
                delta = Matrix.product(g, term.weight, transposeB: true)
            }
        }
        return gradients
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>, using generator: inout G
    ) throws -> AccumulatedGradient<Scalar> {
        let chain = try Self.chain(of: energy.relaxationTerms, layerCount: energy.energy.layerSizes.count)
        return AccumulatedGradient(gradients: try gradient(along: chain, of: energy.energy, input: freeState.layers[0], target: target),
                                   batchSize: freeState.batchSize)
    }
}
