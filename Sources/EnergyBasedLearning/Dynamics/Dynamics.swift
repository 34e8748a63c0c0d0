import LinearAlgebra

/// How a network relaxes towards a minimum of `F = E + β·C`: the free phase (no nudge) and the
/// nudged phase use the same dynamics.
public protocol Dynamics<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar
    /// Moves the free layers of `state` towards a minimum of `energy` (plus `nudge`, if any),
    /// drawing any noise from `generator`. Throws ``RelaxationError/nonFinite(layer:step:)`` when a
    /// state stops being finite.
    @discardableResult
    func relax<G: RandomNumberGenerator>(
        _ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, nudge: Nudge<Scalar>?,
        using generator: inout G) throws -> Relaxation
}

/// What a relaxation did.
public struct Relaxation: Sendable, Equatable {
    /// Steps taken.
    public var steps: Int
    /// The largest change of a unit's state in the last step (0 when not measured).
    public var lastChange: Double
}

public enum RelaxationError: Error, Equatable, CustomStringConvertible {
    /// A state became NaN or infinite: the run diverged.
    case nonFinite(layer: Int, step: Int)

    public var description: String {
        switch self {
        case let .nonFinite(layer, step):
            return "the state of layer \(layer) became NaN or infinite after \(step) relaxation steps: the run diverged (try a smaller step size ε or learning rate)"
        }
    }
}
