import LinearAlgebra

/// Backpropagation through the feed-forward network that an energy's ``FeedForwardChain``
/// describes, `x_l = f_l(x_{l−1} W_l + b_l)`: with `δ_L = ∂C/∂x_L` and, going down,
/// `g_l = δ_l ⊙ f_l′(a_l)`, `δ_{l−1} = g_l W_lᵀ`: `dL/dW_l = x_{l−1}ᵀ g_l` and `dL/db_l = Σ_batch g_l`.
///
/// On the predictive-coding energy the feed-forward pass is the free equilibrium (every prediction
/// error is zero), so this is also what implicit differentiation gives there; the tests check both
/// agree, and check it against finite differences of the loss.
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

    /// The feed-forward pass from `input`: the state with every prediction error zero.
    public static func feedForward(_ energy: LayeredEnergy<Scalar>, input: Matrix<Scalar>) throws -> NetworkState<Scalar> {
        try FeedForwardChain(energy).forward(input: input).state
    }

    /// `dL/dθ` (summed over the batch) for every term, in the order of `energy.terms`;
    /// `L = C(x_L, target)` at the feed-forward pass from `input`.
    public func gradient(energy: LayeredEnergy<Scalar>, input: Matrix<Scalar>, target: Matrix<Scalar>) throws -> [[Matrix<Scalar>]] {
        gradient(along: try FeedForwardChain(energy), of: energy, input: input, target: target)
    }

    /// Backprop's gradient through the zero-feedback limit of an energy such as the (weak-feedback)
    /// Hopfield energy (``FeedForwardChain/limit(of:)``), arranged like `energy.terms`: `dL/dW` for
    /// each interaction, `dL/db` for each bias, nothing for a leak.
    public func gradient(ofFeedForwardLimit energy: LayeredEnergy<Scalar>, input: Matrix<Scalar>, target: Matrix<Scalar>) throws -> [[Matrix<Scalar>]] {
        let (limit, places) = try FeedForwardChain.limit(of: energy)
        let byLayer = try gradient(energy: limit, input: input, target: target)
        return places.map { $0.map { byLayer[$0.term][$0.parameter] } }
    }

    /// Backprop along `chain` (terms of `energy`, possibly specialised for a clamped input): one
    /// forward pass, which keeps each `f′(a_l)`, and one backward pass.
    private func gradient(along chain: FeedForwardChain<Scalar>, of energy: LayeredEnergy<Scalar>,
                          input: Matrix<Scalar>, target: Matrix<Scalar>) -> [[Matrix<Scalar>]] {
        let (state, derivatives) = chain.forward(input: input)
        var gradients = energy.terms.map { $0.parameters.map { Matrix<Scalar>(rows: $0.rows, columns: $0.columns) } }
        var delta = Matrix<Scalar>(rows: input.rows, columns: energy.layerSizes[energy.layerSizes.count - 1])
        cost.accumulateGradient(output: state.output, target: target, scale: 1, into: &delta)
        for (index, term) in chain.links.reversed() {
            var g = delta
            if !(matchingOutputLoss && term.upper == chain.links.count) {
                g.multiply(elementwiseBy: derivatives[term.upper - 1])
            }
            let (parameterGradients, lower) = term.backpropagate(g, at: state, toLowerLayer: term.lower > 0)
            gradients[index] = parameterGradients
            if let lower { delta = lower }
        }
        return gradients
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>, using generator: inout G
    ) throws -> AccumulatedGradient<Scalar> {
        AccumulatedGradient(gradients: gradient(along: try FeedForwardChain(energy), of: energy.energy, input: freeState.layers[0], target: target),
                            batchSize: freeState.batchSize)
    }
}
