import LinearAlgebra

/// An energy over a layered network: a sum of terms, `E(s) = Σ_terms E_term(s)`, and the box
/// each layer's state lives in.
public struct LayeredEnergy<Scalar: BLASScalar>: Sendable {
    /// Units per layer; layer 0 is the input.
    public let layerSizes: [Int]
    public var terms: [any EnergyTerm<Scalar>]
    /// The interval each layer's state is projected onto by the dynamics (`nil`: unbounded).
    public let stateBounds: [ClosedRange<Scalar>?]

    public init(layerSizes: [Int], terms: [any EnergyTerm<Scalar>], stateBounds: [ClosedRange<Scalar>?]) {
        precondition(stateBounds.count == layerSizes.count, "one bound per layer")
        precondition(terms.allSatisfy { $0.layers.allSatisfy(layerSizes.indices.contains) }, "a term reads a layer that does not exist")
        self.layerSizes = layerSizes
        self.terms = terms
        self.stateBounds = stateBounds
    }

    /// `E(s)` summed over the batch.
    public func energy(at state: NetworkState<Scalar>) -> Double {
        terms.reduce(0) { $0 + $1.energy(at: state) }
    }

    /// `∂E/∂θ` for every term's parameters, in the order of `terms`.
    public func parameterGradients(at state: NetworkState<Scalar>) -> [[Matrix<Scalar>]] {
        terms.map { $0.parameterGradients(at: state) }
    }

    /// Every term's parameters, in the order of `terms`.
    public var parameters: [[Matrix<Scalar>]] {
        get { terms.map { $0.parameters } }
        set {
            for i in terms.indices { terms[i].parameters = newValue[i] }
        }
    }

    /// The learning-rate group of each term: the index of the layer below the highest layer it
    /// reads, so that `W_k` (between layers `k` and `k+1`) and `b_{k+1}` share the rate `α_k`, as
    /// in Scellier & Bengio (2017).
    public var learningRateGroups: [Int] {
        terms.map { ($0.layers.max() ?? 1) - 1 }
    }

    /// `θ ← (1 − rates[group]) · θ` for every term's parameters, in place: decoupled weight decay
    /// with `rates[k] = α_k λ` (see ``learningRateGroups``).
    public mutating func decayParameters(by rates: [Scalar]) {
        let groups = learningRateGroups
        for i in terms.indices where !terms[i].parameters.isEmpty {
            terms[i].changeParameters { parameters in
                for p in parameters.indices { parameters[p].scale(by: 1 - rates[groups[i]]) }
            }
        }
    }

    /// Whether every parameter is finite.
    public var parametersAreFinite: Bool {
        terms.allSatisfy { $0.parameters.allSatisfy(\.isFinite) }
    }

    /// Every term's ``EnergyTerm/parameterNames`` (`W0-1`, `b1`, …), in the order of `terms`.
    /// Saved models and checkpoints name their arrays so.
    public var parameterNames: [[String]] { terms.map(\.parameterNames) }
}
