import LinearAlgebra

/// The nudge of a second phase as one more term of the function the dynamics minimise:
///
/// `E_nudge(s) = β · C(s_L, d)`,
///
/// on the output layer `L`, so that a nudged phase relaxes `F = E + β·C` with the same dynamics as
/// the free phase (``ClampedEnergy/adding(_:)``). `β` may be negative. The nudge has no parameters:
/// it is never part of the model, and rules take their contrasts on the model's own terms.
public struct CostTerm<Scalar: BLASScalar>: EnergyTerm {
    public var cost: any Cost<Scalar>
    public var target: Matrix<Scalar>
    /// The nudging strength `β`.
    public var beta: Scalar
    /// The layer the cost reads: the output.
    public let layer: Int

    public init(cost: any Cost<Scalar>, target: Matrix<Scalar>, beta: Scalar, layer: Int) {
        self.cost = cost
        self.target = target
        self.beta = beta
        self.layer = layer
    }

    public var name: String { "nudge" }

    public var layers: [Int] { [layer] }

    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [layer] }

    /// `|β|` times the cost's own curvature bound (1 for the squared error, ½ for the cross-entropy).
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? {
        freeLayers.contains(layer) ? [CurvatureBound(row: layer, column: layer, norm: Double(abs(beta)) * cost.curvatureBound)] : []
    }

    /// `β` times the cost's constant curvature (1 for the squared error; `nil` for the cross-entropy,
    /// which is not quadratic).
    public func layerCurvature(ofLayer k: Int) -> Double? { cost.constantCurvature.map { Double(beta) * $0 } }

    public func energy(at state: NetworkState<Scalar>) -> Double {
        Double(beta) * cost.cost(output: state.layers[layer], target: target)
    }

    /// `gradient += β·∂C/∂y`.
    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        cost.accumulateGradient(output: state.layers[layer], target: target, scale: beta, into: &gradient)
    }

    /// `product += β·(∂²C/∂y²)·v`.
    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>, into product: inout Matrix<Scalar>
    ) {
        cost.accumulateHessianProduct(output: state.layers[layer], direction: direction.layers[layer], scale: beta, into: &product)
    }

    public var parameters: [Matrix<Scalar>] {
        get { [] }
        set { precondition(newValue.isEmpty, "a nudge has no parameters") }
    }

    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] { [] }

    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] { [] }

    /// The nudge on the examples in `rows` only.
    public func restricted(to rows: [Int]) -> any EnergyTerm<Scalar> {
        CostTerm(cost: cost, target: target.gatheringRows(rows), beta: beta, layer: layer)
    }
}
