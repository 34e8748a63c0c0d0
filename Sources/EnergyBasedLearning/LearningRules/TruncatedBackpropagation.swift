import LinearAlgebra

/// Truncated backpropagation (TBP in the comparative study of Scellier, Ernoult, Kendall & Kumar
/// 2023): the exact gradient of `L = C(s_K)` through `K` further steps of the dynamics from the free
/// state, the free state taken as given,
///
/// `dL/dθ = Σ_{t<K} ∂L/∂θ_t`, by ``BackpropagationThroughTime``.
///
/// This is backprop through the last `K` steps of a relaxation whose first steps are the free
/// phase; from the initial state (``FeedForwardPass`` or zero) with `K` the whole relaxation it is
/// backprop through time itself. The dynamics must be deterministic.
public struct TruncatedBackpropagation<Scalar: BLASScalar>: LearningRule {
    /// The `K = steps` steps backpropagated through.
    public var dynamics: ProjectedGradientDescent<Scalar>
    public var cost: any Cost<Scalar>

    public init(dynamics: ProjectedGradientDescent<Scalar>, cost: any Cost<Scalar> = SquaredError()) {
        precondition(dynamics.noise == 0, "backpropagation through the dynamics needs them deterministic (σ = 0)")
        precondition(dynamics.steps >= 1, "at least one step to backpropagate through")
        self.dynamics = dynamics
        self.cost = cost
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> AccumulatedGradient<Scalar> {
        let unrolled = try BackpropagationThroughTime(dynamics: dynamics, cost: cost).gradients(energy: energy, from: freeState, target: target)
        return AccumulatedGradient(gradients: unrolled.total(), batchSize: freeState.batchSize)
    }
}
