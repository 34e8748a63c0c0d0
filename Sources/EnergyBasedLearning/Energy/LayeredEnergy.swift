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

/// A layered energy with some layers clamped (typically the input), ready for relaxation.
///
/// Everything in `∂E/∂s` that depends only on clamped layers — for the Hopfield energy, the
/// input's drive `x·W₀` into the first hidden layer — is computed once here, not at every step.
public struct ClampedEnergy<Scalar: BLASScalar>: Sendable {
    public let energy: LayeredEnergy<Scalar>
    public let clampedLayers: Set<Int>
    /// The box each layer's state is projected onto (see ``LayeredEnergy/stateBounds``).
    public var stateBounds: [ClosedRange<Scalar>?] { energy.stateBounds }
    /// The free layers, in increasing order.
    public let freeLayers: [Int]
    private let constantGradient: [Matrix<Scalar>?]
    /// The terms evaluated at every step, each with the layers whose gradient it adds to.
    private let varyingContributions: [(term: Int, layers: [Int])]
    /// The terms specialised for the clamped layers (see ``EnergyTerm/specialized(clamping:at:)``),
    /// in the order of `energy.terms`: what a relaxation, or anything else evaluated with these
    /// layers clamped, should use. `energy` keeps the plain terms.
    public let relaxationTerms: [any EnergyTerm<Scalar>]

    /// `R_k = Σ_j ‖∂²E/∂s_k∂s_j‖₂` over the free layers `j`, for each free layer `k`, from the terms'
    /// ``EnergyTerm/curvatureBounds(freeLayers:)``; `nil` if a term cannot bound its curvature.
    /// The largest eigenvalue of the Hessian restricted to the free layers is at most `max_k R_k`
    /// (block Gershgorin).
    public func curvatureRowSums() -> [Int: Double]? {
        let free = Set(freeLayers)
        var sums = Dictionary(uniqueKeysWithValues: freeLayers.map { ($0, 0.0) })
        for term in energy.terms {
            guard let bounds = term.curvatureBounds(freeLayers: free) else { return nil }
            for bound in bounds where free.contains(bound.row) && free.contains(bound.column) { sums[bound.row, default: 0] += bound.norm }
        }
        return sums
    }

    /// Clamps `clampedLayers` at their values in `state`.
    public init(_ energy: LayeredEnergy<Scalar>, clamping clampedLayers: Set<Int> = [0], at state: NetworkState<Scalar>) {
        self.init(energy, clamping: clampedLayers, at: state, specializing: energy.terms)
    }

    /// This energy with `layers` clamped as well, at their values in `state` (the layers clamped
    /// already keep theirs): what the terms precomputed for those stays, so that, say, the input's
    /// prediction is not computed again for a phase that also clamps the output.
    public func clamping(_ layers: Set<Int>, at state: NetworkState<Scalar>) -> ClampedEnergy {
        ClampedEnergy(energy, clamping: clampedLayers.union(layers), at: state, specializing: relaxationTerms)
    }

    /// Clamps `clampedLayers`, specialising `terms` (the energy's own, or already specialised ones).
    private init(_ energy: LayeredEnergy<Scalar>, clamping clampedLayers: Set<Int>, at state: NetworkState<Scalar>,
                 specializing terms: [any EnergyTerm<Scalar>]) {
        self.energy = energy
        self.clampedLayers = clampedLayers
        freeLayers = energy.layerSizes.indices.filter { !clampedLayers.contains($0) }
        var constant = [Matrix<Scalar>?](repeating: nil, count: energy.layerSizes.count)
        var varying: [(term: Int, layers: [Int])] = []
        let specialized = terms.map { $0.specialized(clamping: clampedLayers, at: state) }
        for (index, term) in specialized.enumerated() {
            for k in term.layers where !clampedLayers.contains(k) {
                if term.stateGradientDependencies(ofLayer: k).allSatisfy(clampedLayers.contains) {
                    var gradient = constant[k] ?? Matrix(rows: state.batchSize, columns: energy.layerSizes[k])
                    term.accumulateStateGradient(ofLayer: k, at: state, into: &gradient)
                    constant[k] = gradient
                } else if let last = varying.last, last.term == index {
                    varying[varying.count - 1].layers.append(k)
                } else {
                    varying.append((index, [k]))
                }
            }
        }
        constantGradient = constant
        varyingContributions = varying
        relaxationTerms = specialized
    }

    private init(energy: LayeredEnergy<Scalar>, clampedLayers: Set<Int>, freeLayers: [Int],
                 constantGradient: [Matrix<Scalar>?], varyingContributions: [(term: Int, layers: [Int])],
                 relaxationTerms: [any EnergyTerm<Scalar>]) {
        self.energy = energy
        self.clampedLayers = clampedLayers
        self.freeLayers = freeLayers
        self.constantGradient = constantGradient
        self.varyingContributions = varyingContributions
        self.relaxationTerms = relaxationTerms
    }

    /// The same clamped energy for the examples (rows) in `rows` only.
    public func restricted(to rows: Range<Int>) -> ClampedEnergy {
        ClampedEnergy(energy: energy, clampedLayers: clampedLayers, freeLayers: freeLayers,
                      constantGradient: constantGradient.map { $0?.rows(rows) },
                      varyingContributions: varyingContributions,
                      relaxationTerms: relaxationTerms.map { $0.restricted(to: rows) })
    }

    /// `gradient ← ∂E/∂s` for the free layers (clamped layers are left untouched).
    public func stateGradient(at state: NetworkState<Scalar>, into gradient: inout NetworkState<Scalar>) {
        for k in freeLayers {
            if let constant = constantGradient[k] {
                gradient.layers[k] = constant
            } else {
                gradient.layers[k].scale(by: 0)
            }
        }
        for (term, layers) in varyingContributions {
            relaxationTerms[term].accumulateStateGradients(ofLayers: layers, at: state, into: &gradient)
        }
    }

    /// `product ← H_ff·v_f` on the free layers, `H_ff = ∂²E/∂s_f²` (the direction's clamped layers
    /// are ignored).
    public func hessianProduct(at state: NetworkState<Scalar>, direction: NetworkState<Scalar>, into product: inout NetworkState<Scalar>) {
        var direction = direction
        for k in clampedLayers where direction.layers[k].elements.contains(where: { $0 != 0 }) {
            direction.layers[k].scale(by: 0)
        }
        for k in freeLayers { product.layers[k].scale(by: 0) }
        for term in relaxationTerms {
            for k in term.layers where !clampedLayers.contains(k) {
                term.accumulateHessianProduct(ofLayer: k, at: state, direction: direction, into: &product.layers[k])
            }
        }
    }
}
