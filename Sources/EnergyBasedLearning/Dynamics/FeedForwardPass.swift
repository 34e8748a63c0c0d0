import LinearAlgebra

/// The exact free phase of a predictive-coding energy: every layer set to its prediction along the
/// energy's ``FeedForwardChain``, `x_l = f_l(x_{l−1} W_l + b_l)`, where every prediction error and
/// the energy are zero.
///
/// It only relaxes the free phase (the model's energy with the input clamped); a second phase needs
/// an iterative dynamics.
public struct FeedForwardPass<Scalar: BLASScalar>: Dynamics {
    public init() {}

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notFreePhase

        public var description: String {
            "the feed-forward pass solves the free phase only (the model's energy, the input alone clamped); a second phase needs iterative dynamics"
        }
    }

    /// One pass.
    public var steps: Int { 1 }

    public func singleSteps(under energy: ClampedEnergy<Scalar>) -> any Dynamics<Scalar> { self }

    /// No step: the identity metric.
    public func metric(under energy: ClampedEnergy<Scalar>) -> [Scalar] { Array(repeating: 1, count: energy.energy.layerSizes.count) }

    @discardableResult
    public func relax<G: RandomNumberGenerator>(
        _ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, using generator: inout G
    ) throws -> Relaxation {
        guard energy.isModelEnergy, energy.clampedLayers == [0] else { throw Failure.notFreePhase }
        state = try FeedForwardChain(energy).forward(input: state.layers[0]).state
        for k in state.layers.indices.dropFirst() where !state.layers[k].isFinite {
            throw RelaxationError.nonFinite(layer: k, step: 1)
        }
        return Relaxation(steps: 1, lastChange: 0, exampleSteps: state.batchSize)
    }
}
