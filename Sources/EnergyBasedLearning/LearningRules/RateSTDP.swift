import LinearAlgebra

/// The STDP-compatible rule of Bengio, Mesnard, Fischer, Zhang & Wu (2017, Neural Computation
/// 29:555): during the nudged phase every synapse changes at the rate
///
/// `dW_ij/dt ∝ ρ(s_j) · dρ(s_i)/dt`   (presynaptic rate × rate of change of the postsynaptic rate),
///
/// accumulated along the trajectory of the (possibly noisy) dynamics, one step at a time, and
/// applied to the weights once the phase is over.
///
/// For each term of the energy, one step `s_t → s_{t+1}` adds `(∂²E/∂θ∂s)(s̄_t) · Δs_t`, the change
/// of `∂E/∂θ` along the step, evaluated at the midpoint `s̄_t = (s_t + s_{t+1})/2` (the trapezoidal
/// rule for the time integral). In the postsynaptic form `Δs` is kept on the term's highest layer
/// only; in the symmetric form on every layer. For the interaction `−s_k W s_l` on the box, where
/// `ρ(s) = s`, the two forms are `ΔW = s̄_kᵀ Δs_l` and `ΔW = s̄_kᵀ Δs_l + Δs_kᵀ s̄_l`, times
/// `1/b` for the phase's signed nudge `b`. Because `∂E/∂θ` is quadratic in the state, the symmetric
/// sum telescopes: integrated over a noise-free nudged phase it equals EP's
/// `(1/b)(∂E/∂θ(s^b) − ∂E/∂θ(s⁰))`. The ``Nudging`` picks the phases as for EP; with
/// ``Nudging/centered`` the estimate is the mean of the `+β` and `−β` phases' accumulations.
public struct RateSTDP<Scalar: BLASScalar>: LearningRule {
    /// The size of the nudge, `β > 0`; ``nudging`` picks its sign.
    public var beta: Scalar
    public var nudging: Nudging
    public var form: STDPForm
    /// The dynamics of the nudged phase, taken one step at a time with the rule applied after each.
    public var dynamics: any Dynamics<Scalar>
    public var cost: any Cost<Scalar>

    public init(beta: Scalar, nudging: Nudging = .positive, form: STDPForm = .symmetric, cost: any Cost<Scalar> = SquaredError(),
                dynamics: any Dynamics<Scalar>) {
        precondition(beta != 0, "the rule divides by β: it cannot be zero")
        self.beta = beta
        self.nudging = nudging
        self.form = form
        self.cost = cost
        self.dynamics = dynamics
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> AccumulatedGradient<Scalar> {
        let terms = energy.energy.terms
        var accumulated = terms.map { $0.parameters.map { Matrix<Scalar>(rows: $0.rows, columns: $0.columns) } }
        let nudges = nudging.signedNudges(beta, using: &generator)
        let output = freeState.layers.count - 1
        for signed in nudges {
            let nudged = energy.adding(CostTerm(cost: cost, target: target, beta: signed, layer: output))
            let step = dynamics.singleSteps(under: nudged)
            var state = freeState
            for _ in 0..<dynamics.steps {
                let previous = state
                try step.relax(&state, under: nudged, using: &generator)
                var change = state, midpoint = state
                change.add(previous, scaledBy: -1)
                midpoint.add(previous)
                midpoint.scale(by: 0.5)
                for (i, term) in terms.enumerated() where !accumulated[i].isEmpty {
                    var direction = change
                    if form == .postsynaptic, let post = term.layers.max() {
                        for k in direction.layers.indices where k != post { direction.layers[k].scale(by: 0) }
                    }
                    let increments = term.parameterGradientDerivatives(at: midpoint, along: direction)
                    for p in increments.indices { accumulated[i][p].add(increments[p], scaledBy: 1 / (signed * Scalar(nudges.count))) }
                }
            }
        }
        return AccumulatedGradient(gradients: accumulated, batchSize: freeState.batchSize)
    }
}

/// Which synapses of a symmetric pair the rate rule updates.
public enum STDPForm: String, Sendable, CaseIterable, Codable {
    /// `ρ(s_j)·dρ(s_i)/dt`, with `i` the postsynaptic unit (the term's highest layer).
    case postsynaptic
    /// `ρ(s_j)·dρ(s_i)/dt + ρ(s_i)·dρ(s_j)/dt`.
    case symmetric
}
