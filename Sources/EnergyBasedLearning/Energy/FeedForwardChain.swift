import LinearAlgebra

/// A term that is one layer of a feed-forward network: it predicts layer `upper` from layer
/// `lower`, `x_upper = f(x_lower·W + b)`, and its energy is zero exactly there (a prediction
/// error, ``PredictionError``). The feed-forward pass, backprop and PC-Nudge use only this protocol.
public protocol FeedForwardTerm<Scalar>: EnergyTerm {
    /// The predicting layer.
    var lower: Int { get }
    /// The predicted layer.
    var upper: Int { get }
    /// The weight `π` of the prediction error in the energy, `½π‖x_upper − f(a)‖²`.
    var precision: Scalar { get }

    /// `f(a)` and `f′(a)` at `a = x_lower·W + b`.
    func prediction(at state: NetworkState<Scalar>) -> (value: Matrix<Scalar>, derivative: Matrix<Scalar>)

    /// Backprop through this layer: for `g = ∂L/∂a`, the gradient of a loss with respect to the
    /// pre-activation, `∂L/∂θ` for each parameter (`xᵀg` and `Σ_batch g` for `W` and `b`) and, when
    /// `toLowerLayer`, `∂L/∂x_lower = g·Wᵀ`.
    func backpropagate(_ g: Matrix<Scalar>, at state: NetworkState<Scalar>, toLowerLayer: Bool)
        -> (parameterGradients: [Matrix<Scalar>], lowerGradient: Matrix<Scalar>?)

    /// This term with its prediction error held at `error`: the upper layer follows its prediction,
    /// `x_upper = f(a) + error`, as the lower layer relaxes (PC-Nudge). Its energy is the part of the
    /// held term that depends on the lower layer; the upper layer must be clamped.
    func holdingError(_ error: Matrix<Scalar>) -> any EnergyTerm<Scalar>
}

/// What a term contributes to the feed-forward network that its energy becomes as the feedback
/// vanishes (``FeedForwardChain/limit(of:)``).
public enum FeedForwardPart<Scalar: BLASScalar>: Sendable {
    /// The weight `W` of the pre-activation `x_upper = ρ(x_lower·W + …)`.
    case weight(lower: Int, upper: Int, Matrix<Scalar>)
    /// The bias `b` of a layer's pre-activation.
    case bias(layer: Int, Matrix<Scalar>)
}

/// The feed-forward network an energy describes: for every layer `l ≥ 1`, the one
/// ``FeedForwardTerm`` that predicts it from layer `l − 1`, `x_l = f_l(x_{l−1}W_l + b_l)`.
///
/// On the predictive-coding energy the feed-forward pass along the chain is the free equilibrium
/// (every prediction error zero); backprop runs along it backwards.
public struct FeedForwardChain<Scalar: BLASScalar>: Sendable {
    /// The term that predicts each layer `l = 1 … L` (element `l − 1`), with its index among the terms.
    public let links: [(index: Int, term: any FeedForwardTerm<Scalar>)]
    /// Units per layer, input first.
    public let layerSizes: [Int]

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Layer `layer` is not predicted by exactly one feed-forward term from the layer below.
        case notFeedForward(layer: Int)

        public var description: String {
            switch self {
            case let .notFeedForward(layer):
                return "this needs a feed-forward chain of prediction errors; layer \(layer) is not predicted by exactly one term from layer \(layer - 1)"
            }
        }
    }

    /// The chain among `terms` (an energy's, or a clamped energy's specialised terms).
    public init(terms: [any EnergyTerm<Scalar>], layerSizes: [Int]) throws {
        let predictions = terms.enumerated().compactMap { index, term in (term as? any FeedForwardTerm<Scalar>).map { (index, $0) } }
        links = try (1..<layerSizes.count).map { layer in
            let matches = predictions.filter { $0.1.upper == layer }
            guard matches.count == 1, matches[0].1.lower == layer - 1 else { throw Failure.notFeedForward(layer: layer) }
            return (matches[0].0, matches[0].1)
        }
        self.layerSizes = layerSizes
    }

    /// The chain of `energy`'s terms.
    public init(_ energy: LayeredEnergy<Scalar>) throws {
        try self.init(terms: energy.terms, layerSizes: energy.layerSizes)
    }

    /// The chain of a clamped energy's specialised terms: the input's prediction, computed when the
    /// input was clamped, is not computed again.
    public init(_ energy: ClampedEnergy<Scalar>) throws {
        try self.init(terms: energy.relaxationTerms, layerSizes: energy.energy.layerSizes)
    }

    /// The term that predicts the output layer.
    public var output: (index: Int, term: any FeedForwardTerm<Scalar>) { links[links.count - 1] }

    /// The feed-forward pass from `input`, with each layer's `f′(a_l)` (layer 1 first).
    public func forward(input: Matrix<Scalar>) -> (state: NetworkState<Scalar>, derivatives: [Matrix<Scalar>]) {
        var state = NetworkState(input: input, layerSizes: layerSizes)
        var derivatives: [Matrix<Scalar>] = []
        for (_, term) in links {
            let prediction = term.prediction(at: state)
            state.layers[term.upper] = prediction.value
            derivatives.append(prediction.derivative)
        }
        return (state, derivatives)
    }

    /// The zero-feedback limit of an energy whose terms have ``EnergyTerm/feedForwardPart``s, such as
    /// the (weak-feedback) Hopfield energy: `x_k = ρ(x_{k−1}W_{k−1,k} + b_k)`, with `ρ` the projection
    /// onto the layer's box `[0, 1]` (the hard sigmoid), as a predictive-coding energy with the same
    /// weights and biases. Also returns, for each of `energy.terms`, where its parameters' gradients
    /// lie in the limit's: `(limit term, parameter)` per parameter.
    public static func limit(of energy: LayeredEnergy<Scalar>) throws
        -> (energy: LayeredEnergy<Scalar>, parameterPlaces: [[(term: Int, parameter: Int)]])
    {
        let parts = energy.terms.map { $0.feedForwardPart }
        let predictions: [any EnergyTerm<Scalar>] = try (1..<energy.layerSizes.count).map { layer in
            let weights = parts.compactMap { part -> Matrix<Scalar>? in
                if case let .weight(lower, upper, weight)? = part, lower == layer - 1, upper == layer { return weight }
                return nil
            }
            let biases = parts.compactMap { part -> Matrix<Scalar>? in
                if case let .bias(biasLayer, bias)? = part, biasLayer == layer { return bias }
                return nil
            }
            guard weights.count == 1, biases.count <= 1, energy.stateBounds[layer] == 0...1 else { throw Failure.notFeedForward(layer: layer) }
            return PredictionError(lower: layer - 1, upper: layer, weight: weights[0],
                                   bias: biases.first ?? Matrix(rows: 1, columns: energy.layerSizes[layer]), activation: .hardSigmoid)
        }
        let places = try zip(energy.terms, parts).map { term, part -> [(term: Int, parameter: Int)] in
            switch part {
            case let .weight(_, upper, _)?: return [(upper - 1, 0)]
            case let .bias(layer, _)?: return [(layer - 1, 1)]
            case nil:
                guard term.parameters.isEmpty else { throw Failure.notFeedForward(layer: term.layers.max() ?? 0) }
                return []
            }
        }
        return (LayeredEnergy(layerSizes: energy.layerSizes, terms: predictions, stateBounds: energy.stateBounds), places)
    }
}
