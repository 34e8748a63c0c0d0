import LinearAlgebra

/// The rules that pin the output layer at the target instead of nudging it through the cost:
/// from the free equilibrium `s⁰`, clamp the output at `d`, relax the other free layers to `s^c`, and
/// estimate
///
/// `dL/dθ ≈ scale · (∂E/∂θ(s^c) − ∂E/∂θ(s⁰))`.
///
/// Two choices of scale give two rules of the family of Millidge et al. (2022):
/// - ``contrastiveHebbian(dynamics:)``: scale 1 (contrastive Hebbian learning, Movellan 1991).
/// - ``predictiveCoding(outputPrecision:dynamics:)``: scale `1/π_L`. On the predictive-coding
///   energy `∂E/∂θ(s⁰) = 0` (the free equilibrium is the feed-forward pass), and the output term
///   `½π_L‖d − f(a_L)‖²` is EP's nudge `β·C(f(a_L))` with `β = π_L`, so the update tends to
///   backprop's gradient of `½‖ŷ − d‖²` as `π_L` becomes small relative to the hidden precisions.
public struct OutputClamping<Scalar: BLASScalar>: LearningRule {
    public var scale: Scalar
    /// The dynamics of the clamped phase.
    public var dynamics: any Dynamics<Scalar>

    public init(scale: Scalar, dynamics: any Dynamics<Scalar>) {
        self.scale = scale
        self.dynamics = dynamics
    }

    /// Contrastive Hebbian learning: free phase against the phase with the output at the target.
    public static func contrastiveHebbian(dynamics: any Dynamics<Scalar>) -> OutputClamping {
        OutputClamping(scale: 1, dynamics: dynamics)
    }

    /// Contrastive Hebbian learning with weak feedback (Xie & Seung 2003), on the energy
    /// ``LayeredEnergy/hopfield(layerSizes:feedbackGain:using:)`` with `L + 1` layers: the contrast
    /// of layer `k`'s terms is `γ^k` times that of the plain energy, and the update, divided by
    /// `γ^L`, tends to backprop's gradient through the feed-forward network as `γ → 0`.
    public static func weakFeedbackContrastiveHebbian(feedbackGain: Scalar, outputLayer: Int, dynamics: any Dynamics<Scalar>) -> OutputClamping {
        precondition(feedbackGain > 0 && feedbackGain <= 1, "the feedback gain γ is in (0, 1]")
        return OutputClamping(scale: Scalar.pow(feedbackGain, -outputLayer), dynamics: dynamics)
    }

    /// Predictive coding with the output clamped at the target, divided by the energy's output
    /// precision `π_L`.
    public static func predictiveCoding(outputPrecision: Scalar, dynamics: any Dynamics<Scalar>) -> OutputClamping {
        precondition(outputPrecision > 0, "the output precision π_L must be positive: the update is divided by it")
        return OutputClamping(scale: 1 / outputPrecision, dynamics: dynamics)
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> Contrast<Scalar> {
        var state = freeState
        let output = state.layers.count - 1
        state.layers[output] = target
        let clamped = energy.clamping([output], at: state)
        try dynamics.relax(&state, under: clamped, using: &generator)
        return Contrast(positive: state, negative: freeState, scale: scale)
    }
}
