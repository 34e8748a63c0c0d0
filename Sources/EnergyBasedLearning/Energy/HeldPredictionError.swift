import LinearAlgebra

/// A ``PredictionError`` whose error is held at `h` while its lower layer relaxes: the upper layer
/// follows its prediction, `x_l = f(a) + h` with `a = x_{l−1}W + b`, so that the term's energy
/// `½π‖x_l − f(a)‖²` stays `½π‖h‖²` and its pull on layer `l − 1` is that of
///
/// `E_held(x_{l−1}) = −π h·f(x_{l−1}W + b)`:
///
/// `∂E_held/∂x_{l−1} = −π (h ⊙ f′(a)) Wᵀ`, `(∂²E_held/∂x_{l−1}²)·v = −π (h ⊙ f″(a) ⊙ vW) Wᵀ`.
///
/// PC-Nudge relaxes the hidden layers with the output's error held at `−λ·∂C/∂ŷ`; the upper layer
/// is clamped meanwhile (its value is set from the prediction afterwards). The term has no
/// parameters of its own: the model keeps the prediction error.
public struct HeldPredictionError<Scalar: BLASScalar>: EnergyTerm {
    public var prediction: PredictionError<Scalar>
    /// The held error `h`, `batch × size(l)`.
    public var heldError: Matrix<Scalar>

    public init(prediction: PredictionError<Scalar>, heldError: Matrix<Scalar>) {
        self.prediction = prediction
        self.heldError = heldError
    }

    public var name: String { "held-\(prediction.name)" }

    public var layers: [Int] { [prediction.lower, prediction.upper] }

    public func stateGradientDependencies(ofLayer k: Int) -> [Int] { [prediction.lower] }

    /// `π ‖W‖₂² · max|h| · max|f″|` on layer `l − 1`: zero for piecewise-linear activations.
    public func curvatureBounds(freeLayers: Set<Int>) -> [CurvatureBound]? {
        guard freeLayers.contains(prediction.lower) else { return [] }
        let largestError = heldError.elements.map { Double(abs($0)) }.max() ?? 0
        let norm = prediction.connection.norm(of: prediction.weight)
        let bound = Double(prediction.precision) * norm * norm * largestError * prediction.activation.maximumCurvature
        return [CurvatureBound(row: prediction.lower, column: prediction.lower, norm: bound)]
    }

    /// `f(a)`, `f′(a)` and `f″(a)`.
    private func evaluated(at state: NetworkState<Scalar>) -> (value: Matrix<Scalar>, derivative: Matrix<Scalar>, secondDerivative: Matrix<Scalar>?) {
        prediction.prediction(at: state, secondDerivative: true)
    }

    /// `−π Σ h·f(a)`.
    public func energy(at state: NetworkState<Scalar>) -> Double {
        -Double(prediction.precision) * heldError.dot(evaluated(at: state).value)
    }

    public func accumulateStateGradient(ofLayer k: Int, at state: NetworkState<Scalar>, into gradient: inout Matrix<Scalar>) {
        precondition(k == prediction.lower, "a held prediction error moves only its lower layer; the upper one is clamped")
        var weighted = heldError
        weighted.multiply(elementwiseBy: prediction.prediction(at: state).derivative)
        prediction.connection.addAdjoint(of: weighted, by: prediction.weight, into: &gradient, alpha: -prediction.precision)
    }

    public func accumulateHessianProduct(
        ofLayer k: Int, at state: NetworkState<Scalar>, direction: NetworkState<Scalar>, into product: inout Matrix<Scalar>
    ) {
        precondition(k == prediction.lower, "a held prediction error moves only its lower layer; the upper one is clamped")
        guard var curvature = evaluated(at: state).secondDerivative, !curvature.isZero else { return }
        curvature.multiply(elementwiseBy: heldError)
        curvature.multiply(elementwiseBy: prediction.connection.image(of: direction.layers[prediction.lower], by: prediction.weight))
        prediction.connection.addAdjoint(of: curvature, by: prediction.weight, into: &product, alpha: -prediction.precision)
    }

    public var parameters: [Matrix<Scalar>] {
        get { [] }
        set { precondition(newValue.isEmpty, "a held prediction error has no parameters of its own") }
    }

    public func parameterGradients(at state: NetworkState<Scalar>) -> [Matrix<Scalar>] { [] }

    public func parameterGradientDerivatives(at state: NetworkState<Scalar>, along direction: NetworkState<Scalar>) -> [Matrix<Scalar>] { [] }

    public func restricted(to rows: [Int]) -> any EnergyTerm<Scalar> {
        HeldPredictionError(prediction: prediction.restrictedPrediction(to: rows), heldError: heldError.gatheringRows(rows))
    }
}
