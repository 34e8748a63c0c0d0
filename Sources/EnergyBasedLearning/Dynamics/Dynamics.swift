import LinearAlgebra

/// How a network relaxes towards a minimum of the function `F` of a ``ClampedEnergy``: the model's
/// energy `E` in the free phase, `E + β·C` (``CostTerm``) or another variant in a second phase. Every
/// phase of every rule uses the same dynamics.
public protocol Dynamics<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar
    /// Moves the free layers of `state` towards a minimum of `energy`, drawing any noise from
    /// `generator`. Throws ``RelaxationError/nonFinite(layer:step:)`` when a state stops being finite.
    @discardableResult
    func relax<G: RandomNumberGenerator>(
        _ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, using generator: inout G) throws -> Relaxation

    /// The steps of one relaxation (at most, when it stops at a tolerance).
    var steps: Int { get }

    /// These dynamics one step at a time, for relaxations under `energy`: what a whole relaxation
    /// would prepare first (a step size capped by the energy's curvature) is prepared once, here.
    /// Rules that act along the trajectory (STDP) take the steps one by one.
    func singleSteps(under energy: ClampedEnergy<Scalar>) -> any Dynamics<Scalar>

    /// The factor `D_k` per layer by which these dynamics move a unit of layer `k` along its force
    /// `−∂F/∂s` on `energy` (gradient descent: its per-layer step scales; the exact block minimiser:
    /// `1/c_k`): the metric in which a fixed point's residual and curvature are measured
    /// (``GradientCheck/Hypotheses``).
    func metric(under energy: ClampedEnergy<Scalar>) -> [Scalar]
}

/// What a relaxation did.
public struct Relaxation: Sendable, Equatable {
    /// Steps taken.
    public var steps: Int
    /// The largest change of a unit's state in the last step (0 when not measured).
    public var lastChange: Double
    /// The examples whose last step still moved a unit by more than the dynamics' tolerance (1e-4
    /// when it has none): they did not reach a fixed point.
    public var unsettledExamples: Int
    /// The steps each example took, summed over the examples: with a tolerance an example stops
    /// once it has settled, so this, not the batch's `steps` times its size, is the work done.
    public var exampleSteps: Int

    public init(steps: Int, lastChange: Double, unsettledExamples: Int = 0, exampleSteps: Int) {
        self.steps = steps
        self.lastChange = lastChange
        self.unsettledExamples = unsettledExamples
        self.exampleSteps = exampleSteps
    }
}

extension Relaxation {
    /// A relaxation that ended after `steps` steps (`exampleSteps` over all its examples) in which
    /// example `r` last moved a unit by `rowChanges[r]`: the examples that moved by more than
    /// `tolerance` (1e-4 when `nil`) did not settle. Throws ``RelaxationError/nonFinite(layer:step:)``
    /// if a free layer is not finite.
    init<Scalar: BLASScalar>(ending state: NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, steps: Int, exampleSteps: Int,
                             rowChanges: [Scalar], tolerance: Scalar?) throws {
        for k in energy.freeLayers where !state.layers[k].isFinite {
            throw RelaxationError.nonFinite(layer: k, step: steps)
        }
        let threshold = tolerance ?? Scalar(1e-4)
        self.init(steps: steps, lastChange: Double(rowChanges.max() ?? 0), unsettledExamples: rowChanges.filter { $0 > threshold }.count,
                  exampleSteps: exampleSteps)
    }
}

public enum RelaxationError: Error, Equatable, CustomStringConvertible {
    /// A state became NaN or infinite: the run diverged.
    case nonFinite(layer: Int, step: Int)
    /// A layer whose energy is not convex in its own state and whose states are not bounded: it
    /// has no minimum.
    case unboundedLayer(Int)

    public var description: String {
        switch self {
        case let .nonFinite(layer, step):
            return "the state of layer \(layer) became NaN or infinite after \(step) relaxation steps: the run diverged (try a smaller step size ε or learning rate)"
        case let .unboundedLayer(layer):
            return "the energy is not convex in the state of layer \(layer), which is not bounded: it has no minimum"
        }
    }
}
