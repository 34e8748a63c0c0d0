import LinearAlgebra

/// The exact free phase of a predictive-coding energy: every layer set to its prediction,
/// `x_l = f_l(x_{l−1} W_l + b_l)`, where every prediction error and the energy are zero.
///
/// It only relaxes the free phase; a nudged phase needs an iterative dynamics.
public struct FeedForwardPass<Scalar: BLASScalar>: Dynamics {
    public init() {}

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case nudged

        public var description: String {
            "the feed-forward pass solves the free phase only; a nudged phase needs iterative dynamics"
        }
    }

    @discardableResult
    public func relax<G: RandomNumberGenerator>(
        _ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, nudge: Nudge<Scalar>?,
        using generator: inout G
    ) throws -> Relaxation {
        guard nudge == nil else { throw Failure.nudged }
        state = try Backpropagation.feedForward(energy, input: state.layers[0])
        for k in state.layers.indices.dropFirst() where !state.layers[k].isFinite {
            throw RelaxationError.nonFinite(layer: k, step: 1)
        }
        return Relaxation(steps: 1, lastChange: 0)
    }
}
