import LinearAlgebra

/// The STDP-compatible rule of Bengio, Mesnard, Fischer, Zhang & Wu (2017, Neural Computation
/// 29:555): during the nudged phase every synapse changes at the rate
///
/// `dW_ij/dt ∝ ρ(s_j) · dρ(s_i)/dt`   (presynaptic rate × rate of change of the postsynaptic rate),
///
/// accumulated online along the trajectory of the (possibly noisy) dynamics.
///
/// For each term of the energy, one step `s_t → s_{t+1}` adds `(∂²E/∂θ∂s)(s̄_t) · Δs_t`, the change
/// of `∂E/∂θ` along the step, evaluated at the midpoint `s̄_t = (s_t + s_{t+1})/2` (the trapezoidal
/// rule for the time integral). In the postsynaptic form `Δs` is kept on the term's highest layer
/// only; in the symmetric form on every layer. For the interaction `−s_k W s_l` on the box, where
/// `ρ(s) = s`, the two forms are `ΔW = s̄_kᵀ Δs_l` and `ΔW = s̄_kᵀ Δs_l + Δs_kᵀ s̄_l`, times
/// `1/β`. Because `∂E/∂θ` is quadratic in the state, the symmetric sum telescopes: integrated over a
/// noise-free nudged phase it equals EP's `(1/β)(∂E/∂θ(s^β) − ∂E/∂θ(s⁰))`.
public struct RateSTDP<Scalar: BLASScalar>: LearningRule {
    public var beta: Scalar
    public var form: STDPForm
    /// One step of the nudged dynamics, taken `steps` times with the rule applied after each.
    public var step: ProjectedGradientDescent<Scalar>
    public var steps: Int
    public var cost: any Cost<Scalar>

    /// - Parameters:
    ///   - beta: the nudge `β` (non-zero; the update is divided by it).
    ///   - form: the symmetric or the postsynaptic form of the rate rule.
    ///   - stepSize: the time step `ε` of the dynamics.
    ///   - steps: the steps of the nudged phase, with the rule applied after each.
    ///   - noise: the Langevin noise level `σ` (0: deterministic).
    ///   - cost: the output cost `C` that nudges the output.
    public init(beta: Scalar, form: STDPForm = .symmetric, stepSize: Scalar, steps: Int, noise: Scalar = 0,
                cost: any Cost<Scalar> = SquaredError()) {
        precondition(beta != 0, "the rule divides by β: it cannot be zero")
        self.beta = beta
        self.form = form
        self.step = ProjectedGradientDescent(stepSize: stepSize, steps: 1, noise: noise)
        self.steps = steps
        self.cost = cost
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> AccumulatedGradient<Scalar> {
        let terms = energy.energy.terms
        var accumulated = terms.map { $0.parameters.map { Matrix<Scalar>(rows: $0.rows, columns: $0.columns) } }
        let nudge = Nudge(cost: cost, target: target, beta: beta)
        var state = freeState
        for _ in 0..<steps {
            let previous = state
            try step.relax(&state, under: energy, nudge: nudge, using: &generator)
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
                for p in increments.indices { accumulated[i][p].add(increments[p], scaledBy: 1 / beta) }
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
