import LinearAlgebra

/// Backpropagation through time over the free phase: the exact gradient of `L = C(s_T)` for the
/// discrete-time dynamics that ``ProjectedGradientDescent`` runs,
///
/// `s_{t+1} = Π(s_t − ε·∂E/∂s(s_t, θ))`,   `t = 0 … T−1`,
///
/// i.e. `s_{t+1} = ∂Φ/∂s(s_t)` with `Φ(s) = ½‖s‖² − ε·E(s)` inside the box. With `D_t` the mask of
/// the units the projection `Π` leaves free at step `t` and `H = ∂²E/∂s²`, the adjoint
/// `λ_t = ∂L/∂s_t` runs backwards from `λ_T = ∂C/∂s_T`:
///
/// `λ_t = D_t λ_{t+1} − H(s_t)·(ε D_t λ_{t+1})`,
///
/// and the parameters used in step `t` get `∂L/∂θ_t = −(∂²E/∂θ∂s)(s_t)·(ε D_t λ_{t+1})`.
/// `dL/dθ = Σ_t ∂L/∂θ_t`.
public struct BackpropagationThroughTime<Scalar: BLASScalar>: Sendable {
    /// The free-phase dynamics unrolled (deterministic: its noise must be 0).
    public var dynamics: ProjectedGradientDescent<Scalar>
    public var cost: any Cost<Scalar>

    public init(dynamics: ProjectedGradientDescent<Scalar>, cost: any Cost<Scalar> = SquaredError()) {
        precondition(dynamics.noise == 0, "backpropagation through time needs deterministic dynamics (σ = 0)")
        self.dynamics = dynamics
        self.cost = cost
    }

    /// The gradients of one unrolled free phase, indexed as in Ernoult et al. (2019) by the number
    /// `k` of steps back from the end.
    public struct Gradients: Sendable {
        /// The last state `s_T`.
        public var finalState: NetworkState<Scalar>
        /// `∂L/∂s_{T−k}` for `k = 0 … K`, `K` the steps backpropagated through (clamped layers are zero).
        public var stateGradients: [NetworkState<Scalar>]
        /// `∂L/∂θ_{T−k}`, the gradient for the parameters used in the step from `s_{T−k}` to
        /// `s_{T−k+1}`, for `k = 1 … K` (element `k − 1`), for every term in the order of `energy.terms`.
        public var parameterGradients: [[[Matrix<Scalar>]]]
        /// The mask (1 or 0) of the units the projection left free in the last step.
        public var freeUnits: NetworkState<Scalar>
        /// `max |s_T − s_{T−1}|` over the free units: how far the unrolled phase is from a fixed point.
        public var lastChange: Double

        /// `dL/dθ = Σ_k ∂L/∂θ_{T−k}` (truncated to the `K` steps backpropagated through), or the sum over
        /// the first `steps` steps back only.
        public func total(overLast steps: Int? = nil) -> [[Matrix<Scalar>]] {
            let included = parameterGradients.prefix(steps ?? parameterGradients.count)
            return included.dropFirst().reduce(included.first!) { sum, step in
                zip(sum, step).map { zip($0, $1).map { $0 + $1 } }
            }
        }
    }

    /// Unrolls `dynamics.steps` steps from `initial` (clamped layers at their values) and
    /// backpropagates `C(s_T, target)` through them, or only through the last `truncation` steps
    /// (truncated BPTT: only those states are kept).
    public func gradients(energy: ClampedEnergy<Scalar>, from initial: NetworkState<Scalar>, target: Matrix<Scalar>,
                          truncation: Int? = nil) throws -> Gradients {
        precondition(dynamics.steps > 0, "at least one step to backpropagate through")
        let dynamics = self.dynamics.stabilizesSteps ? self.dynamics.stabilized(for: energy) : self.dynamics
        let backwardSteps = Swift.min(truncation ?? dynamics.steps, dynamics.steps)
        precondition(backwardSteps > 0, "at least one step to backpropagate through")
        let stepSizes = energy.energy.layerSizes.indices.map { dynamics.stepSize * (dynamics.layerStepScales?[$0] ?? 1) }
        // Forward: the last `backwardSteps + 1` states and, per step, the mask of units the
        // projection leaves free.
        var states: [NetworkState<Scalar>] = []
        var masks: [NetworkState<Scalar>] = []
        var gradient = NetworkState(zerosLike: initial)
        var state = initial
        var lastChanges = [Scalar](repeating: 0, count: initial.batchSize)
        for t in 0..<dynamics.steps {
            energy.stateGradient(at: state, into: &gradient)
            if t >= dynamics.steps - backwardSteps {
                states.append(state)
                masks.append(Self.unprojectedUnits(energy: energy, at: state, gradient: gradient, stepSizes: stepSizes))
            }
            for k in energy.freeLayers {
                if t == dynamics.steps - 1 {
                    state.layers[k].descend(along: gradient.layers[k], stepSize: stepSizes[k], within: energy.stateBounds[k], rowChanges: &lastChanges)
                } else {
                    state.layers[k].descend(along: gradient.layers[k], stepSize: stepSizes[k], within: energy.stateBounds[k])
                }
            }
            guard state.isFinite else { throw RelaxationError.nonFinite(layer: energy.freeLayers.first { !state.layers[$0].isFinite }!, step: t + 1) }
        }
        // Backward, through the kept steps (`states[i]` is `s_{T − backwardSteps + i}`).
        let finalState = state
        var adjoint = NetworkState(zerosLike: finalState)
        let output = finalState.layers.count - 1
        if !energy.clampedLayers.contains(output) {
            cost.accumulateGradient(output: finalState.output, target: target, scale: 1, into: &adjoint.layers[output])
        }
        var stateGradients = [adjoint]
        var parameterGradients: [[[Matrix<Scalar>]]] = []
        var product = NetworkState(zerosLike: finalState)
        for t in stride(from: backwardSteps - 1, through: 0, by: -1) {
            adjoint.multiply(by: masks[t])
            var direction = adjoint
            for k in direction.layers.indices { direction.layers[k].scale(by: stepSizes[k]) }
            parameterGradients.append(energy.energy.terms.map { term in
                term.parameterGradientDerivatives(at: states[t], along: direction).map { derivative in
                    var gradient = derivative
                    gradient.scale(by: -1)
                    return gradient
                }
            })
            energy.hessianProduct(at: states[t], direction: direction, into: &product)
            for k in energy.freeLayers { adjoint.layers[k].add(product.layers[k], scaledBy: -1) }
            stateGradients.append(adjoint)
        }
        return Gradients(finalState: finalState, stateGradients: stateGradients, parameterGradients: parameterGradients,
                         freeUnits: masks[masks.count - 1], lastChange: Double(lastChanges.max() ?? 0))
    }

    /// The mask `D` (1 or 0) of the free units that a step `s − ε_k·∂E/∂s` from `state`, with
    /// `gradient = ∂E/∂s`, leaves strictly inside their box: the projection's derivative.
    static func unprojectedUnits(energy: ClampedEnergy<Scalar>, at state: NetworkState<Scalar>, gradient: NetworkState<Scalar>,
                                 stepSizes: [Scalar]) -> NetworkState<Scalar> {
        var mask = NetworkState(zerosLike: state)
        for k in energy.freeLayers {
            let bounds = energy.stateBounds[k]
            let low = bounds?.lowerBound ?? -.infinity, high = bounds?.upperBound ?? .infinity
            let s = state.layers[k].elements, g = gradient.layers[k].elements
            mask.layers[k].elements = s.indices.map { i in
                let unprojected = s[i] - stepSizes[k] * g[i]
                return unprojected > low && unprojected < high ? 1 : 0
            }
        }
        return mask
    }
}
