import LinearAlgebra

/// PC-Nudge (Millidge et al. 2022): on a predictive-coding energy, hold the output layer's
/// prediction error at `e_L = −λ·∂C/∂ŷ` (`ŷ` the free output), relax the hidden layers, and
/// estimate `dL/dθ ≈ (1/(λπ_L))·(∂E/∂θ(s^λ) − ∂E/∂θ(s⁰))`, `π_L` the output's precision.
///
/// The output state follows its prediction, `x_L = f(a_L) − λ·∂C/∂ŷ`, so the hidden layers relax
/// under `E_{<L} + λπ_L·∂C/∂ŷ · f(a_L)` (the output's term held, ``FeedForwardTerm/holdingError(_:)``):
/// EP's nudge with `β = λπ_L`, linearised at the free output, on the network's prediction: the
/// contrast tends to `λπ_L·dL/dθ`, and the estimate, divided by `λπ_L`, is exact as `λ → 0` for any
/// cost and any precisions. (Clamping `x_L` at the fixed value `ŷ − λ·∂C/∂ŷ` instead
/// would let the hidden layers absorb part of the error and is not exact unless `π_L` is small:
/// that is PC.)
public struct PCNudge<Scalar: BLASScalar>: LearningRule {
    public var lambda: Scalar
    public var cost: any Cost<Scalar>
    /// The inference dynamics of the hidden layers.
    public var dynamics: any Dynamics<Scalar>

    public init(lambda: Scalar, cost: any Cost<Scalar> = SquaredError(), dynamics: any Dynamics<Scalar>) {
        precondition(lambda != 0, "PC-Nudge divides by λ: it cannot be zero")
        self.lambda = lambda
        self.cost = cost
        self.dynamics = dynamics
    }

    public func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Scalar>, freeState: NetworkState<Scalar>, target: Matrix<Scalar>,
        using generator: inout G
    ) throws -> Contrast<Scalar> {
        let (index, outputTerm) = try FeedForwardChain(energy).output
        let output = freeState.layers.count - 1
        var heldError = Matrix<Scalar>(rows: freeState.batchSize, columns: freeState.output.columns)
        cost.accumulateGradient(output: freeState.output, target: target, scale: -lambda, into: &heldError)
        var state = freeState
        let held = energy.clamping([output], at: state).replacingTerm(at: index, with: outputTerm.holdingError(heldError))
        try dynamics.relax(&state, under: held, using: &generator)
        state.layers[output] = outputTerm.prediction(at: state).value + heldError
        return Contrast(positive: state, negative: freeState, scale: 1 / (lambda * outputTerm.precision))
    }
}
