import LinearAlgebra

/// A layered energy with some layers clamped (typically the input), ready for relaxation: the
/// function `F` that a ``Dynamics`` minimises over the free layers.
///
/// Everything in `∂F/∂s` that depends only on clamped layers — for the Hopfield energy, the
/// input's drive `x·W₀` into the first hidden layer — is computed once here, not at every step.
/// A second phase minimises the model's energy plus a nudge (``adding(_:)``), or with one of its
/// terms changed (``replacingTerm(at:with:)``); ``energy`` stays the model, whose terms the
/// learning rules differentiate.
public struct ClampedEnergy<Scalar: BLASScalar>: Sendable {
    /// The model's energy.
    public let energy: LayeredEnergy<Scalar>
    public let clampedLayers: Set<Int>
    /// The box each layer's state is projected onto (see ``LayeredEnergy/stateBounds``).
    public var stateBounds: [ClosedRange<Scalar>?] { energy.stateBounds }
    /// The free layers, in increasing order.
    public let freeLayers: [Int]
    private let constantGradient: [Matrix<Scalar>?]
    /// The terms evaluated at every step, each with the layers whose gradient it adds to.
    private var varyingContributions: [(term: Int, layers: [Int])]
    /// The terms of `F`: the model's terms specialised for the clamped layers (see
    /// ``EnergyTerm/specialized(clamping:at:)``), in the order of `energy.terms`, then any terms
    /// added for a second phase. What a relaxation, or anything else evaluated with these layers
    /// clamped, should use. `energy` keeps the plain terms.
    public private(set) var relaxationTerms: [any EnergyTerm<Scalar>]
    /// Whether `F` is the model's energy itself: no term added or replaced.
    public private(set) var isModelEnergy = true

    /// `R_k = Σ_j ‖∂²F/∂s_k∂s_j‖₂` over the free layers `j`, for each free layer `k`, from the terms'
    /// ``EnergyTerm/curvatureBounds(freeLayers:)``; `nil` if a term cannot bound its curvature.
    /// The largest eigenvalue of the Hessian restricted to the free layers is at most `max_k R_k`
    /// (block Gershgorin).
    public func curvatureRowSums() -> [Int: Double]? {
        let free = Set(freeLayers)
        var sums = Dictionary(uniqueKeysWithValues: freeLayers.map { ($0, 0.0) })
        for term in relaxationTerms {
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
        var clamped = ClampedEnergy(energy, clamping: clampedLayers.union(layers), at: state, specializing: relaxationTerms)
        clamped.isModelEnergy = isModelEnergy
        return clamped
    }

    /// `F + term`: a nudge (``CostTerm``) for a second phase. The term is evaluated at every step.
    public func adding(_ term: any EnergyTerm<Scalar>) -> ClampedEnergy {
        var added = self
        added.relaxationTerms.append(term)
        let free = term.layers.filter { !clampedLayers.contains($0) }
        if !free.isEmpty { added.varyingContributions.append((relaxationTerms.count, free)) }
        added.isModelEnergy = false
        return added
    }

    /// `F` with the term at `index` (of ``relaxationTerms``) replaced by `term`, which reads the same
    /// layers. The replaced term must be evaluated at every step: it contributes nothing to the
    /// part of the gradient computed once.
    public func replacingTerm(at index: Int, with term: any EnergyTerm<Scalar>) -> ClampedEnergy {
        precondition(Set(term.layers) == Set(relaxationTerms[index].layers), "a replacement reads the same layers")
        precondition(relaxationTerms[index].layers.filter { !clampedLayers.contains($0) }.allSatisfy { k in
            !relaxationTerms[index].stateGradientDependencies(ofLayer: k).allSatisfy(clampedLayers.contains)
        }, "the replaced term must not contribute to the gradient computed once")
        var replaced = self
        replaced.relaxationTerms[index] = term
        replaced.isModelEnergy = false
        return replaced
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
                 relaxationTerms: [any EnergyTerm<Scalar>], isModelEnergy: Bool) {
        self.energy = energy
        self.clampedLayers = clampedLayers
        self.freeLayers = freeLayers
        self.constantGradient = constantGradient
        self.varyingContributions = varyingContributions
        self.relaxationTerms = relaxationTerms
        self.isModelEnergy = isModelEnergy
    }

    /// The same clamped energy for the examples (rows) at `rows` only, in that order.
    public func restricted(to rows: [Int]) -> ClampedEnergy {
        ClampedEnergy(energy: energy, clampedLayers: clampedLayers, freeLayers: freeLayers,
                      constantGradient: constantGradient.map { $0?.gatheringRows(rows) },
                      varyingContributions: varyingContributions,
                      relaxationTerms: relaxationTerms.map { $0.restricted(to: rows) }, isModelEnergy: isModelEnergy)
    }

    /// `F(s)`, summed over the batch.
    public func value(at state: NetworkState<Scalar>) -> Double {
        relaxationTerms.reduce(0) { $0 + $1.energy(at: state) }
    }

    /// `gradient ← ∂F/∂s` for the free layers (clamped layers are left untouched).
    @_specialize(where Scalar == Float)
    public func stateGradient(at state: NetworkState<Scalar>, into gradient: inout NetworkState<Scalar>) {
        stateGradient(at: state, into: &gradient, layers: Set(freeLayers))
    }

    /// `gradient_k ← ∂F/∂s_k` for the free layers in `layers` only (the others are left untouched):
    /// each term computes only what those layers need.
    @_specialize(where Scalar == Float)
    public func stateGradient(at state: NetworkState<Scalar>, into gradient: inout NetworkState<Scalar>, layers: Set<Int>) {
        for k in freeLayers where layers.contains(k) {
            if let constant = constantGradient[k] {
                // Copied into the gradient's own storage: assigned, it would be copied again by the
                // first term that adds to it.
                gradient.layers[k].overwrite(with: constant)
            } else {
                gradient.layers[k].scale(by: 0)
            }
        }
        for (term, contributed) in varyingContributions {
            let chosen = contributed.filter(layers.contains)
            if !chosen.isEmpty { relaxationTerms[term].accumulateStateGradients(ofLayers: chosen, at: state, into: &gradient) }
        }
    }

    /// For each free layer `k`, the constant `c_k` such that `F`, every other layer fixed, is
    /// `½c_k‖s_k‖²` plus a function linear in `s_k` (the sum of the terms'
    /// ``EnergyTerm/layerCurvature(ofLayer:)``), or the first term that is not of that form in a free
    /// layer, by name and layer.
    public func layerCurvatures() -> Result<[Int: Double], NotLayerQuadratic> {
        var curvatures = Dictionary(uniqueKeysWithValues: freeLayers.map { ($0, 0.0) })
        for term in relaxationTerms {
            for k in term.layers where curvatures[k] != nil {
                guard let c = term.layerCurvature(ofLayer: k) else { return .failure(NotLayerQuadratic(term: term.name, layer: k)) }
                curvatures[k]! += c
            }
        }
        return .success(curvatures)
    }

    /// The free layers in groups that no term couples (greedily, in increasing order: the even and
    /// the odd layers of a layered network), so that each group can be minimised at once.
    public func independentLayerGroups() -> [[Int]] {
        var groups: [[Int]] = []
        for k in freeLayers {
            let coupled = Set(relaxationTerms.filter { $0.layers.contains(k) }.flatMap(\.layers)).subtracting([k])
            if let g = groups.firstIndex(where: { $0.allSatisfy { !coupled.contains($0) } }) {
                groups[g].append(k)
            } else {
                groups.append([k])
            }
        }
        return groups
    }

    /// `product ← H_ff·v_f` on the free layers, `H_ff = ∂²F/∂s_f²` (the direction's clamped layers
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

/// A term that is not, in a free layer's state, `½c‖s_k‖²` plus a linear function: a layer-wise
/// exact minimiser does not apply (see ``ExactBlockDescent``).
public struct NotLayerQuadratic: Error, Equatable, CustomStringConvertible {
    public var term: String
    public var layer: Int

    public init(term: String, layer: Int) {
        self.term = term
        self.layer = layer
    }

    public var description: String {
        "the term \(term) is not quadratic with a constant curvature in the state of layer \(layer), so that layer has no exact minimiser in closed form: the exact block minimizer needs the Hopfield energy without max pooling (and the squared error for a nudge); use gradient descent"
    }
}
