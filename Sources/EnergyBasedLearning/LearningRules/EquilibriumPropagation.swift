import LinearAlgebra

/// Equilibrium Propagation (Scellier & Bengio 2017).
///
/// From the free equilibrium `s⁰`, relax again under `F = E + β·C` to `s^β` and estimate
///
/// `dL/dθ ≈ (1/β) · (∂E/∂θ(s^β) − ∂E/∂θ(s⁰))`          (one-sided, error O(β)), or
/// `dL/dθ ≈ (1/2β) · (∂E/∂θ(s^{+β}) − ∂E/∂θ(s^{−β}))`   (symmetric, Laborieux et al. 2021, error O(β²)).
///
/// With `randomSign`, the sign of `β` is drawn at random for each batch, as in the paper's code.
public struct EquilibriumPropagation<Scalar: BLASScalar>: LearningRule {
    public var beta: Scalar
    public var nudging: Nudging
    public var randomSign: Bool
    public var cost: any Cost<Scalar>
    /// The dynamics of the nudged phase(s).
    public var dynamics: any Dynamics<Scalar>

    public init(beta: Scalar, nudging: Nudging = .oneSided, randomSign: Bool = false,
                cost: any Cost<Scalar> = SquaredError(), dynamics: any Dynamics<Scalar>) {
        precondition(beta != 0, "EP divides by β: it cannot be zero")
        self.beta = beta
        self.nudging = nudging
        self.randomSign = randomSign
        self.cost = cost
        self.dynamics = dynamics
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> Contrast<Scalar> {
        let beta = randomSign && Bool.random(using: &generator) ? -self.beta : self.beta
        let positive = try nudged(freeState, energy: energy, target: target, beta: beta, using: &generator)
        switch nudging {
        case .oneSided:
            return Contrast(positive: positive, negative: freeState, scale: 1 / beta)
        case .symmetric:
            let negative = try nudged(freeState, energy: energy, target: target, beta: -beta, using: &generator)
            return Contrast(positive: positive, negative: negative, scale: 1 / (2 * beta))
        }
    }

    private func nudged<G: RandomNumberGenerator>(
        _ freeState: NetworkState<Scalar>, energy: ClampedEnergy<Scalar>, target: Matrix<Scalar>, beta: Scalar,
        using generator: inout G
    ) throws -> NetworkState<Scalar> {
        var state = freeState
        try dynamics.relax(&state, under: energy, nudge: Nudge(cost: cost, target: target, beta: beta), using: &generator)
        return state
    }
}

/// How EP nudges: once with `β` (one-sided) or with `+β` and `−β` (symmetric).
public enum Nudging: String, Sendable, CaseIterable, Codable {
    case oneSided = "one-sided"
    case symmetric
}
