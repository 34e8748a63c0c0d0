import LinearAlgebra

/// A term multiplied by a constant, `c · E_term(s)`: every derivative is scaled by `c`.
///
/// The weak-feedback energy of Xie & Seung (2003) weighs the terms of layer `k` by `γ^k`.
public struct ScaledTerm<Scalar: BLASScalar>: EnergyTerm {
    public var term: any EnergyTerm<Scalar>
    public let factor: Scalar

    public init(_ term: any EnergyTerm<Scalar>, by factor: Scalar) {
        precondition(factor > 0 && factor.isFinite, "a term is scaled by a positive finite factor")
        self.term = term
        self.factor = factor
    }

    public var name: String { term.name }
    public var parameterNames: [String] { term.parameterNames }

    public var parameterShapes: [[Int]] { term.parameterShapes }
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? {
        term.curvatureBounds(freeLayers: freeLayers)?.map { CurvatureBound(row: $0.row, column: $0.column, norm: Double(factor) * $0.norm) }
    }
    public func layerCurvature(ofLayer k: Int) -> Double? { term.layerCurvature(ofLayer: k).map { Double(factor) * $0 } }
    public var layers: [Int] { term.layers }
    /// A scale does not change where a term's feed-forward limit lies: the term's own part.
    public var feedForwardPart: FeedForwardPart<Scalar>? { term.feedForwardPart }
    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { term.stateGradientDependencies(ofLayer: k) }
    public func energy(at state: NetworkState<Scalar>) -> Double { Double(factor) * term.energy(at: state) }

    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        var own = Matrix<Scalar>(rows: gradient.rows, columns: gradient.columns)
        term.accumulateStateGradient(ofLayer: k, at: state, into: &own)
        gradient.add(own, scaledBy: factor)
    }

    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>, into product: inout Matrix<Scalar>
    ) {
        var own = Matrix<Scalar>(rows: product.rows, columns: product.columns)
        term.accumulateHessianProduct(ofLayer: k, at: state, direction: direction, into: &own)
        product.add(own, scaledBy: factor)
    }

    public var parameters: [Matrix<Scalar>] {
        get { term.parameters }
        set { term.parameters = newValue }
    }

    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        scaled(term.parameterGradients(at: state))
    }

    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        scaled(term.parameterGradientDerivatives(at: state, along: direction))
    }

    public func parameterGradientDifference(between a: NetworkState<Scalar>, and b: NetworkState<Scalar>) -> [Matrix<Scalar>] {
        scaled(term.parameterGradientDifference(between: a, and: b))
    }

    public mutating func descendContrast(between a: NetworkState<Scalar>, and b: NetworkState<Scalar>, stepSize: Scalar) {
        term.descendContrast(between: a, and: b, stepSize: stepSize * factor)
    }

    public func specialized(clamping clampedLayers: Set<Int>, at state: NetworkState<Scalar>) -> any EnergyTerm<Scalar> {
        ScaledTerm(term.specialized(clamping: clampedLayers, at: state), by: factor)
    }

    public func restricted(to rows: [Int]) -> any EnergyTerm<Scalar> {
        ScaledTerm(term.restricted(to: rows), by: factor)
    }

    private func scaled(_ matrices: [Matrix<Scalar>]) -> [Matrix<Scalar>] {
        matrices.map { var m = $0; m.scale(by: factor); return m }
    }
}
