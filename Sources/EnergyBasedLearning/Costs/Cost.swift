import LinearAlgebra

/// A cost `C(y, d)` on the output layer's state `y` for targets `d`; in the nudged phase the
/// dynamics minimise `F = E + β·C`.
public protocol Cost<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar
    /// `C(y, d)` summed over the batch.
    func cost(output: Matrix<Scalar>, target: Matrix<Scalar>) -> Double
    /// `gradient += scale · ∂C/∂y`.
    func accumulateGradient(output: Matrix<Scalar>, target: Matrix<Scalar>, scale: Scalar, into gradient: inout Matrix<Scalar>)
}

/// The squared error `C = ½‖y − d‖²`, with `∂C/∂y = y − d`.
public struct SquaredError<Scalar: BLASScalar>: Cost {
    public init() {}

    public func cost(output: Matrix<Scalar>, target: Matrix<Scalar>) -> Double {
        let difference = output - target
        return 0.5 * difference.dot(difference)
    }

    public func accumulateGradient(output: Matrix<Scalar>, target: Matrix<Scalar>, scale: Scalar, into gradient: inout Matrix<Scalar>) {
        gradient.add(output, scaledBy: scale)
        gradient.add(target, scaledBy: -scale)
    }
}

/// The output nudge of the second phase: the term `β·C(s_output, d)` added to the energy.
public struct Nudge<Scalar: BLASScalar>: Sendable {
    public var cost: any Cost<Scalar>
    public var target: Matrix<Scalar>
    /// The nudging strength `β`; may be negative.
    public var beta: Scalar

    public init(cost: any Cost<Scalar>, target: Matrix<Scalar>, beta: Scalar) {
        self.cost = cost
        self.target = target
        self.beta = beta
    }

    /// The nudge on the examples in `rows` only.
    public func restricted(to rows: Range<Int>) -> Nudge {
        Nudge(cost: cost, target: target.rows(rows), beta: beta)
    }
}
