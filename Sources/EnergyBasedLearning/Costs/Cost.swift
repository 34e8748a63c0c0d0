import LinearAlgebra

/// A cost `C(y, d)` on the output layer's state `y` for targets `d`; in the nudged phase the
/// dynamics minimise `F = E + β·C` (see ``CostTerm``).
public protocol Cost<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar
    /// `C(y, d)` summed over the batch.
    func cost(output: Matrix<Scalar>, target: Matrix<Scalar>) -> Double
    /// `gradient += scale · ∂C/∂y`.
    func accumulateGradient(output: Matrix<Scalar>, target: Matrix<Scalar>, scale: Scalar, into gradient: inout Matrix<Scalar>)
    /// `product += scale · (∂²C/∂y²)·v`, per example.
    func accumulateHessianProduct(output: Matrix<Scalar>, direction: Matrix<Scalar>, scale: Scalar, into product: inout Matrix<Scalar>)
    /// A bound on the spectral norm of `∂²C/∂y²`, valid at every output.
    var curvatureBound: Double { get }
    /// The constant `c` with `∂²C/∂y² = c·I` at every output, if the cost is such a quadratic (`nil`
    /// otherwise).
    var constantCurvature: Double? { get }
}

/// The squared error `C = ½‖y − d‖²`, with `∂C/∂y = y − d` and `∂²C/∂y² = I`.
public struct SquaredError<Scalar: BLASScalar>: Cost {
    public init() {}

    public var curvatureBound: Double { 1 }

    public var constantCurvature: Double? { 1 }

    public func accumulateHessianProduct(output: Matrix<Scalar>, direction: Matrix<Scalar>, scale: Scalar, into product: inout Matrix<Scalar>) {
        product.add(direction, scaledBy: scale)
    }

    public func cost(output: Matrix<Scalar>, target: Matrix<Scalar>) -> Double {
        let difference = output - target
        return 0.5 * difference.dot(difference)
    }

    public func accumulateGradient(output: Matrix<Scalar>, target: Matrix<Scalar>, scale: Scalar, into gradient: inout Matrix<Scalar>) {
        gradient.add(output, scaledBy: scale)
        gradient.add(target, scaledBy: -scale)
    }
}

/// The costs by name, as the command line spells them.
public enum CostName: String, Sendable, CaseIterable, Codable {
    case squaredError = "squared-error"
    case crossEntropy = "cross-entropy"

    public func cost<Scalar: BLASScalar>(_: Scalar.Type = Scalar.self) -> any Cost<Scalar> {
        switch self {
        case .squaredError: SquaredError<Scalar>()
        case .crossEntropy: CrossEntropy<Scalar>()
        }
    }
}

/// The cross-entropy of the softmax of the output, `C = −Σ_j d_j log softmax(y)_j` per example,
/// with `∂C/∂y = softmax(y) − d` (targets summing to 1) and `∂²C/∂y² = diag(p) − ppᵀ`,
/// `p = softmax(y)`, whose eigenvalues lie in `[0, ½]`.
public struct CrossEntropy<Scalar: BLASScalar>: Cost {
    public init() {}

    public var curvatureBound: Double { 0.5 }

    /// Not quadratic.
    public var constantCurvature: Double? { nil }

    /// `(diag(p) − ppᵀ)·v = p ⊙ (v − (p·v))`, per row.
    public func accumulateHessianProduct(output: Matrix<Scalar>, direction: Matrix<Scalar>, scale: Scalar, into product: inout Matrix<Scalar>) {
        let p = softmax(output)
        for row in 0..<output.rows {
            let start = row * output.columns
            var pv: Scalar = 0
            for j in 0..<output.columns { pv += p.elements[start + j] * direction.elements[start + j] }
            for j in 0..<output.columns {
                product.elements[start + j] += scale * p.elements[start + j] * (direction.elements[start + j] - pv)
            }
        }
    }

    /// `softmax(y)` per row, computed stably (the row maximum subtracted first).
    func softmax(_ output: Matrix<Scalar>) -> Matrix<Scalar> {
        var result = output
        for row in 0..<output.rows {
            let start = row * output.columns
            var largest = -Scalar.infinity
            for j in 0..<output.columns { largest = Swift.max(largest, output.elements[start + j]) }
            var total: Scalar = 0
            for j in 0..<output.columns {
                let e = Scalar.exp(output.elements[start + j] - largest)
                result.elements[start + j] = e
                total += e
            }
            for j in 0..<output.columns { result.elements[start + j] /= total }
        }
        return result
    }

    public func cost(output: Matrix<Scalar>, target: Matrix<Scalar>) -> Double {
        let probabilities = softmax(output)
        var total = 0.0
        for i in 0..<target.count where target.elements[i] != 0 {
            total -= Double(target.elements[i] * Scalar.log(Swift.max(probabilities.elements[i], .leastNormalMagnitude)))
        }
        return total
    }

    public func accumulateGradient(output: Matrix<Scalar>, target: Matrix<Scalar>, scale: Scalar, into gradient: inout Matrix<Scalar>) {
        gradient.add(softmax(output), scaledBy: scale)
        gradient.add(target, scaledBy: -scale)
    }
}
