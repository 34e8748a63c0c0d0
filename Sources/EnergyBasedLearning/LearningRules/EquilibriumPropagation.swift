import LinearAlgebra

/// Equilibrium Propagation (Scellier & Bengio 2017).
///
/// From the free equilibrium `s⁰`, relax again under `F = E + b·C` (``CostTerm``) to `s^b` and
/// estimate, by ``Nudging``,
///
/// `dL/dθ ≈ (1/β) · (∂E/∂θ(s^{+β}) − ∂E/∂θ(s⁰))`          (positive, error O(β)),
/// `dL/dθ ≈ (1/β) · (∂E/∂θ(s⁰) − ∂E/∂θ(s^{−β}))`          (negative, error O(β)), or
/// `dL/dθ ≈ (1/2β) · (∂E/∂θ(s^{+β}) − ∂E/∂θ(s^{−β}))`     (centered, Laborieux et al. 2021, error O(β²)).
public struct EquilibriumPropagation<Scalar: BLASScalar>: LearningRule {
    /// The size of the nudge, `β > 0`; ``nudging`` picks its sign.
    public var beta: Scalar
    public var nudging: Nudging
    public var cost: any Cost<Scalar>
    /// The dynamics of the nudged phase(s).
    public var dynamics: any Dynamics<Scalar>

    public init(beta: Scalar, nudging: Nudging = .positive, cost: any Cost<Scalar> = SquaredError(), dynamics: any Dynamics<Scalar>) {
        precondition(beta != 0, "EP divides by β: it cannot be zero")
        self.beta = beta
        self.nudging = nudging
        self.cost = cost
        self.dynamics = dynamics
    }

    @_specialize(where Scalar == Float, G == SeededGenerator)
    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> Contrast<Scalar> {
        let output = freeState.layers.count - 1
        return try nudging.contrast(beta: beta, freeState: freeState, using: &generator) { signed, generator in
            var state = freeState
            try dynamics.relax(&state, under: energy.adding(CostTerm(cost: cost, target: target, beta: signed, layer: output)), using: &generator)
            return state
        }
    }
}
