import LinearAlgebra

/// Recurrent backpropagation (RBP; Almeida 1987, Pineda 1987; in the comparative study of Scellier,
/// Ernoult, Kendall & Kumar 2023): implicit differentiation at the free state `s*`, the adjoint
/// found by iterating the dynamics' linearisation there instead of solving a linear system.
///
/// With one step `Φ(s) = Π(s − ε·∂E/∂s)` of projected gradient descent, `D` the mask of the units the
/// projection leaves free at `s*` and `H = ∂²E/∂s²(s*)`, the adjoint runs `K` iterations from
/// `λ₀ = ∂C/∂s`,
///
/// `μ_k = ε D λ_k`,   `λ_{k+1} = D λ_k − H μ_k`,
///
/// and `dL/dθ ≈ −(∂²E/∂θ∂s)(s*)·Σ_k μ_k`. This is backprop through `K` steps that stay at `s*`: at an
/// exact fixed point it equals ``TruncatedBackpropagation`` over `K` steps, and as `K → ∞` (with the
/// step stable on the free units) it tends to ``ImplicitDifferentiation``.
public struct RecurrentBackpropagation<Scalar: BLASScalar>: LearningRule {
    /// Its step sizes `ε_k`, and `K = steps` iterations.
    public var dynamics: ProjectedGradientDescent<Scalar>
    public var cost: any Cost<Scalar>

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case adjointNotFinite(iterations: Int)

        public var description: String {
            switch self {
            case let .adjointNotFinite(iterations):
                return "recurrent backpropagation diverged: the adjoint became NaN or infinite within \(iterations) iterations (the step ε is too large for the energy's curvature at the free state; try --stable-steps or a smaller --epsilon)"
            }
        }
    }

    public init(dynamics: ProjectedGradientDescent<Scalar>, cost: any Cost<Scalar> = SquaredError()) {
        precondition(dynamics.noise == 0, "the linearised dynamics are deterministic (σ = 0)")
        self.dynamics = dynamics
        self.cost = cost
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> AccumulatedGradient<Scalar> {
        let dynamics = self.dynamics.stabilizesSteps ? self.dynamics.stabilized(for: energy) : self.dynamics
        let stepSizes = energy.energy.layerSizes.indices.map { dynamics.stepSize * (dynamics.layerStepScales?[$0] ?? 1) }
        var gradient = NetworkState(zerosLike: freeState)
        energy.stateGradient(at: freeState, into: &gradient)
        let mask = BackpropagationThroughTime.unprojectedUnits(energy: energy, at: freeState, gradient: gradient, stepSizes: stepSizes)
        var adjoint = NetworkState(zerosLike: freeState)
        let output = freeState.layers.count - 1
        if !energy.clampedLayers.contains(output) {
            cost.accumulateGradient(output: freeState.output, target: target, scale: 1, into: &adjoint.layers[output])
        }
        var total = NetworkState(zerosLike: freeState)
        var product = NetworkState(zerosLike: freeState)
        for _ in 0..<dynamics.steps {
            adjoint.multiply(by: mask)
            var direction = adjoint
            for k in direction.layers.indices { direction.layers[k].scale(by: stepSizes[k]) }
            total.add(direction)
            energy.hessianProduct(at: freeState, direction: direction, into: &product)
            for k in energy.freeLayers { adjoint.layers[k].add(product.layers[k], scaledBy: -1) }
        }
        guard total.isFinite else { throw Failure.adjointNotFinite(iterations: dynamics.steps) }
        let gradients = energy.energy.terms.map { term in
            term.parameterGradientDerivatives(at: freeState, along: total).map { derivative in
                var gradient = derivative
                gradient.scale(by: -1)
                return gradient
            }
        }
        return AccumulatedGradient(gradients: gradients, batchSize: freeState.batchSize)
    }
}
