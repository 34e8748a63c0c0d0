import LinearAlgebra

/// The gradient-descending-updates (GDU) property of Ernoult et al. (2019, "Updates of
/// Equilibrium Prop Match Gradients of Backprop Through Time in an RNN with Static Input"):
/// step by step, EP's updates in the nudged phase equal minus BPTT's gradients over the free
/// phase, counted back from its end, as `β → 0` once the free phase has converged.
///
/// The free phase runs `T` steps of `s_{t+1} = Π(s_t − ε·∂E/∂s)` to `s* = s_T`; the nudged phase
/// starts there and runs `s^β_{k} = Π(s^β_{k−1} − ε·(∂E/∂s + β·∂C/∂s))`. For `k = 1 … K`:
///
/// `ΔEP_s(k) = (s^β_k − s^β_{k−1}) / (εβ)`  →  `−D ∂L/∂s_{T−k+1}`,
///
/// `ΔEP_θ(k) = −(∂E/∂θ(s^β_k) − ∂E/∂θ(s^β_{k−1})) / β`  →  `−∂L/∂θ_{T−k}`,
///
/// where `D` masks the units the projection holds at the boundary of their box at `s*`. Summed
/// over `k`, `ΔEP_θ` telescopes to minus EP's usual estimate.
public struct GradientDescentUpdates<Scalar: BLASScalar>: Sendable {
    /// The free phase (`steps` = `T`) and, with one step at a time, the nudged phase.
    public var dynamics: ProjectedGradientDescent<Scalar>
    public var beta: Scalar
    /// The number `K` of nudged steps compared.
    public var nudgedSteps: Int
    public var cost: any Cost<Scalar>

    public init(dynamics: ProjectedGradientDescent<Scalar>, beta: Scalar, nudgedSteps: Int, cost: any Cost<Scalar> = SquaredError()) {
        precondition(beta != 0, "β must be non-zero: the updates divide by it")
        precondition(nudgedSteps >= 1 && nudgedSteps <= dynamics.steps, "compare between 1 and T nudged steps")
        self.dynamics = dynamics
        self.beta = beta
        self.nudgedSteps = nudgedSteps
        self.cost = cost
    }

    /// One step `k` of both: EP's updates and minus BPTT's gradients.
    public struct Step: Sendable {
        public var step: Int
        public var equilibriumPropagationStateUpdate: NetworkState<Scalar>
        public var negativeBPTTStateGradient: NetworkState<Scalar>
        public var equilibriumPropagationParameterUpdate: [[Matrix<Scalar>]]
        public var negativeBPTTParameterGradient: [[Matrix<Scalar>]]

        /// How close EP's parameter update is to minus BPTT's gradient, overall and per term.
        public func parameterComparison(names: [String]) -> GradientComparison {
            GradientComparison(estimate: equilibriumPropagationParameterUpdate, reference: negativeBPTTParameterGradient, names: names)
        }

        /// How close EP's state update is to minus BPTT's state gradient, overall and per free layer
        /// (named `s1`, `s2`, …).
        public func stateComparison(freeLayers: [Int]) -> GradientComparison {
            let names = equilibriumPropagationStateUpdate.layers.indices.map { "s\($0)" }
            let estimate = equilibriumPropagationStateUpdate.layers.indices.map { freeLayers.contains($0) ? [equilibriumPropagationStateUpdate.layers[$0]] : [] }
            let reference = negativeBPTTStateGradient.layers.indices.map { freeLayers.contains($0) ? [negativeBPTTStateGradient.layers[$0]] : [] }
            return GradientComparison(estimate: estimate, reference: reference, names: names)
        }
    }

    /// Runs the free phase from `initial` (its free layers are the starting point, typically
    /// zero), BPTT through its last `K` steps, and `K` nudged steps from its end.
    public func compare(energy: ClampedEnergy<Scalar>, from initial: NetworkState<Scalar>, target: Matrix<Scalar>) throws -> [Step] {
        let freePhase = try BackpropagationThroughTime(dynamics: dynamics, cost: cost)
            .gradients(energy: energy, from: initial, target: target, truncation: nudgedSteps)
        return try compare(energy: energy, freePhase: freePhase, target: target)
    }

    /// The same from a free phase already unrolled and backpropagated (through at least `K` steps,
    /// with this comparison's dynamics and cost), so that several nudges share one free phase.
    public func compare(energy: ClampedEnergy<Scalar>, freePhase bptt: BackpropagationThroughTime<Scalar>.Gradients,
                        target: Matrix<Scalar>) throws -> [Step] {
        precondition(bptt.parameterGradients.count >= nudgedSteps, "BPTT must cover the \(nudgedSteps) steps compared")
        var oneStep = dynamics
        oneStep.steps = 1
        oneStep.tolerance = nil
        let nudged = energy.adding(CostTerm(cost: cost, target: target, beta: beta, layer: energy.energy.layerSizes.count - 1))
        var generator = SeededGenerator(seed: 0)
        let freeUnits = bptt.freeUnits
        var previous = bptt.finalState
        var previousParameterGradients = energy.energy.parameterGradients(at: previous)
        return try (1...nudgedSteps).map { k in
            var state = previous
            try oneStep.relax(&state, under: nudged, using: &generator)
            let parameterGradients = energy.energy.parameterGradients(at: state)
            var stateUpdate = NetworkState(zerosLike: state)
            for l in energy.freeLayers {
                stateUpdate.layers[l] = state.layers[l] - previous.layers[l]
                stateUpdate.layers[l].scale(by: 1 / (beta * dynamics.stepSize * (dynamics.layerStepScales?[l] ?? 1)))
            }
            let parameterUpdate = zip(parameterGradients, previousParameterGradients).map { after, before in
                zip(after, before).map { a, b in
                    var update = a - b
                    update.scale(by: -1 / beta)
                    return update
                }
            }
            var negativeStateGradient = bptt.stateGradients[k - 1]
            negativeStateGradient.multiply(by: freeUnits)
            negativeStateGradient.scale(by: -1)
            let negativeParameterGradient = bptt.parameterGradients[k - 1].map { $0.map { g in var n = g; n.scale(by: -1); return n } }
            previous = state
            previousParameterGradients = parameterGradients
            return Step(step: k, equilibriumPropagationStateUpdate: stateUpdate, negativeBPTTStateGradient: negativeStateGradient,
                        equilibriumPropagationParameterUpdate: parameterUpdate, negativeBPTTParameterGradient: negativeParameterGradient)
        }
    }
}
