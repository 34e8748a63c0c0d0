import LinearAlgebra

/// Coupled learning (Stern, Hexner, Rocks & Liu 2021), generalised to any cost as in Scellier et
/// al. (2023): from the free equilibrium `s⁰` with output `o`, clamp the output a step `b` towards
/// the target, at `o − b·∂C/∂ŷ(o)` (for the squared error `o + b(d − o)`), relax the other free
/// layers, and contrast the states as Equilibrium Propagation does (``Nudging``: PCpL, NCpL, CCpL):
///
/// `dL/dθ ≈ (1/β) · (∂E/∂θ(s^{c,+β}) − ∂E/∂θ(s⁰))`, …
///
/// Unlike EP's nudge, a clamped output moves by `O(β)` whatever the energy's curvature at the
/// output; the estimate is not the loss gradient in general. `eqprop gradcheck --rule cpl` measures
/// how far it is.
public struct CoupledLearning<Scalar: BLASScalar>: LearningRule {
    /// The size of the step towards the target, `β > 0`; ``nudging`` picks its sign.
    public var beta: Scalar
    public var nudging: Nudging
    public var cost: any Cost<Scalar>
    /// The dynamics of the clamped phase(s).
    public var dynamics: any Dynamics<Scalar>

    public init(beta: Scalar, nudging: Nudging = .positive, cost: any Cost<Scalar> = SquaredError(), dynamics: any Dynamics<Scalar>) {
        precondition(beta != 0, "coupled learning divides by β: it cannot be zero")
        self.beta = beta
        self.nudging = nudging
        self.cost = cost
        self.dynamics = dynamics
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> Contrast<Scalar> {
        let output = freeState.layers.count - 1
        var costGradient = Matrix<Scalar>(rows: freeState.batchSize, columns: freeState.output.columns)
        cost.accumulateGradient(output: freeState.output, target: target, scale: 1, into: &costGradient)
        return try nudging.contrast(beta: beta, freeState: freeState, using: &generator) { signed, generator in
            var state = freeState
            state.layers[output].add(costGradient, scaledBy: -signed)
            try dynamics.relax(&state, under: energy.clamping([output], at: state), using: &generator)
            return state
        }
    }
}
