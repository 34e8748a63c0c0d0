import LinearAlgebra

/// The exact gradient of the cost at a free equilibrium, by implicit differentiation.
///
/// At a fixed point `s*` the free units satisfy `∂E/∂s_A(s*, θ) = 0`, where `A` is the set of free
/// units strictly inside their box (a unit at the boundary of its box — where the hard sigmoid is
/// flat — stays there under a small change of `θ`). Differentiating,
///
/// `H_AA · ds*_A/dθ = −∂²E/∂s_A∂θ`, with `H = ∂²E/∂s²`,
///
/// so with the adjoint `λ` solving `H_AA λ = ∂C/∂s_A`,
///
/// `dL/dθ = −λᵀ · ∂²E/∂s∂θ = −d/dt ∂E/∂θ(s* + tλ)|_{t=0}`.
///
/// `λ` is found by conjugate gradients with the terms' Hessian-vector products (`H_AA` is
/// positive definite at a stable minimum).
public struct ImplicitDifferentiation<Scalar: BLASScalar>: Sendable {
    public var cost: any Cost<Scalar>
    /// The largest projected-gradient residual `‖s − Π(s − ∂E/∂s)‖_∞` accepted as a fixed point.
    public var fixedPointTolerance: Scalar
    /// Relative residual at which conjugate gradients stops.
    public var solverTolerance: Double
    public var maximumSolverIterations: Int

    public init(cost: any Cost<Scalar> = SquaredError(), fixedPointTolerance: Scalar,
                solverTolerance: Double = 1e-14, maximumSolverIterations: Int = 10_000) {
        self.cost = cost
        self.fixedPointTolerance = fixedPointTolerance
        self.solverTolerance = solverTolerance
        self.maximumSolverIterations = maximumSolverIterations
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notAtFixedPoint(residual: Double, tolerance: Double)
        case solverDidNotConverge(relativeResidual: Double, iterations: Int)

        public var description: String {
            switch self {
            case let .notAtFixedPoint(residual, tolerance):
                return "the state is not a fixed point of the energy: projected-gradient residual \(residual) > \(tolerance); relax longer"
            case let .solverDidNotConverge(residual, iterations):
                return "conjugate gradients did not converge (relative residual \(residual) after \(iterations) iterations): the Hessian may not be positive definite at this state"
            }
        }
    }

    /// `dL/dθ` for every term's parameters (summed over the batch), `L = C(s*_output, target)`.
    public func gradient(energy: ClampedEnergy<Scalar>, at fixedPoint: NetworkState<Scalar>, target: Matrix<Scalar>) throws -> [[Matrix<Scalar>]] {
        let adjoint = try adjoint(energy: energy, at: fixedPoint, target: target)
        return energy.energy.terms.map { term in
            term.parameterGradientDerivatives(at: fixedPoint, along: adjoint).map { derivative in
                var gradient = derivative
                gradient.scale(by: -1)
                return gradient
            }
        }
    }

    /// The adjoint `λ`, solving `H_AA λ = ∂C/∂s_A` on the active units (zero elsewhere). It is
    /// also the fixed point's response to a nudge: the minimum of `E + βC` is `s* − βλ + O(β²)`
    /// while no unit crosses a bound of its box.
    public func adjoint(energy: ClampedEnergy<Scalar>, at fixedPoint: NetworkState<Scalar>, target: Matrix<Scalar>) throws -> NetworkState<Scalar> {
        let active = try activeUnits(energy: energy, at: fixedPoint)
        var rightHandSide = NetworkState(zerosLike: fixedPoint)
        let output = fixedPoint.layers.count - 1
        cost.accumulateGradient(output: fixedPoint.output, target: target, scale: 1, into: &rightHandSide.layers[output])
        rightHandSide.multiply(by: active)
        return try solve(energy: energy, at: fixedPoint, active: active, rightHandSide: rightHandSide)
    }

    /// A mask (1 for active, 0 otherwise) of the free units strictly inside their box.
    private func activeUnits(energy: ClampedEnergy<Scalar>, at state: NetworkState<Scalar>) throws -> NetworkState<Scalar> {
        var gradient = NetworkState(zerosLike: state)
        energy.stateGradient(at: state, into: &gradient)
        var mask = NetworkState(zerosLike: state)
        var residual: Scalar = 0
        for k in energy.freeLayers {
            let bounds = energy.stateBounds[k]
            let low = bounds?.lowerBound ?? -.infinity, high = bounds?.upperBound ?? .infinity
            for i in 0..<state.layers[k].count {
                let s = state.layers[k].elements[i]
                let projected = Swift.min(Swift.max(s - gradient.layers[k].elements[i], low), high)
                residual = Swift.max(residual, abs(s - projected))
                mask.layers[k].elements[i] = (s > low && s < high) ? 1 : 0
            }
        }
        guard residual <= fixedPointTolerance else {
            throw Failure.notAtFixedPoint(residual: Double(residual), tolerance: Double(fixedPointTolerance))
        }
        return mask
    }

    /// Conjugate gradients for `(P H P) λ = r` on the active units `P`.
    private func solve(energy: ClampedEnergy<Scalar>, at state: NetworkState<Scalar>, active: NetworkState<Scalar>,
                       rightHandSide: NetworkState<Scalar>) throws -> NetworkState<Scalar> {
        var solution = NetworkState(zerosLike: state)
        var residual = rightHandSide
        var direction = residual
        var product = NetworkState(zerosLike: state)
        var residualNorm² = residual.dot(residual)
        let initialNorm² = residualNorm²
        var iteration = 0
        while residualNorm² > solverTolerance * solverTolerance * initialNorm² {
            guard iteration < maximumSolverIterations else {
                throw Failure.solverDidNotConverge(relativeResidual: (residualNorm² / initialNorm²).squareRoot(), iterations: iteration)
            }
            energy.hessianProduct(at: state, direction: direction, into: &product)
            product.multiply(by: active)
            let curvature = direction.dot(product)
            guard curvature > 0 else {
                throw Failure.solverDidNotConverge(relativeResidual: .nan, iterations: iteration)
            }
            let step = residualNorm² / curvature
            solution.add(direction, scaledBy: Scalar(step))
            residual.add(product, scaledBy: Scalar(-step))
            let next = residual.dot(residual)
            direction.scale(by: Scalar(next / residualNorm²))
            direction.add(residual)
            residualNorm² = next
            iteration += 1
        }
        return solution
    }
}
