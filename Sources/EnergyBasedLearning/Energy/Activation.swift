import LinearAlgebra

/// An element-wise activation `f` with its first two derivatives (taken as 0 at kinks).
public enum Activation: String, Sendable, CaseIterable, Codable {
    /// `f(a) = a`.
    case identity
    /// `f(a) = max(a, 0)`.
    case relu
    /// `f(a) = tanh(a)`.
    case tanh
    /// `f(a) = 1/(1 + e^{−a})`.
    case sigmoid
    /// `f(a) = clip(a, 0, 1)`, the `ρ` of Scellier & Bengio (2017).
    case hardSigmoid = "hard-sigmoid"
    /// `f(a) = a·Φ(a)` with `Φ` the standard normal distribution function, `Φ(a) = ½(1 + erf(a/√2))`
    /// (the GELU of Hendrycks & Gimpel 2016, exact, not the tanh approximation):
    /// `f′(a) = Φ(a) + a·φ(a)`, `f″(a) = φ(a)·(2 − a²)`, `φ` the normal density.
    case gelu

    /// `max |f′|`: for GELU `f′(√2) = Φ(√2) + √2·φ(√2) ≈ 1.0682`.
    public var maximumSlope: Double {
        switch self {
        case .identity, .relu, .tanh, .hardSigmoid: 1
        case .sigmoid: 0.25
        case .gelu: 1.0682
        }
    }

    /// `max |f″|` (0 where `f` is piecewise linear): `4/(3√3)` for tanh, `1/(6√3)` for the sigmoid,
    /// `f″(0) = 2φ(0) = √(2/π)` for GELU.
    public var maximumCurvature: Double {
        switch self {
        case .identity, .relu, .hardSigmoid: 0
        case .tanh: 4 / (3 * 3.0.squareRoot())
        case .sigmoid: 1 / (6 * 3.0.squareRoot())
        case .gelu: (2 / Double.pi).squareRoot()
        }
    }

    /// Calls `body` with the function `a ↦ (f(a), f′(a))` of this activation. The switch sits
    /// outside `body`'s loop, so that each loop is compiled (and vectorised) for one activation.
    @inline(__always)
    private func withValueAndSlope<Scalar: BLASScalar>(_ body: ((Scalar) -> (value: Scalar, slope: Scalar)) -> Void) {
        switch self {
        case .identity: body { a in (a, 1) }
        case .relu: body { a in a > 0 ? (a, 1) : (0, 0) }
        case .hardSigmoid: body { a in (Swift.min(Swift.max(a, 0), 1), a > 0 && a < 1 ? 1 : 0) }
        case .tanh:
            body { a in
                let t = Scalar.tanh(a)
                return (t, 1 - t * t)
            }
        case .sigmoid:
            body { a in
                let s = 1 / (1 + Scalar.exp(-a))
                return (s, s * (1 - s))
            }
        case .gelu:
            body { a in
                let cumulative = (1 + Scalar.erf(a * Scalar(0.5).squareRoot())) / 2
                return (a * cumulative, cumulative + a * Self.normalDensity(a))
            }
        }
    }

    /// `φ(a) = e^{−a²/2}/√(2π)`.
    @inline(__always)
    private static func normalDensity<Scalar: BLASScalar>(_ a: Scalar) -> Scalar {
        Scalar.exp(-a * a / 2) / (2 * Scalar.pi).squareRoot()
    }

    /// `f(a)`, `f′(a)` and `f″(a)` for every element of `preactivation`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func evaluate<Scalar: BLASScalar>(_ preactivation: Matrix<Scalar>, secondDerivative: Bool = false)
        -> (value: Matrix<Scalar>, derivative: Matrix<Scalar>, secondDerivative: Matrix<Scalar>?)
    {
        var value = preactivation
        var derivative = Matrix<Scalar>(rows: preactivation.rows, columns: preactivation.columns)
        var second: Matrix<Scalar>? = secondDerivative ? Matrix(rows: preactivation.rows, columns: preactivation.columns) : nil
        value.elements.withUnsafeMutableBufferPointer { f in
            derivative.elements.withUnsafeMutableBufferPointer { d in
                withValueAndSlope { (valueAndSlope: (Scalar) -> (value: Scalar, slope: Scalar)) in
                    for i in f.indices { (f[i], d[i]) = valueAndSlope(f[i]) }
                }
            }
        }
        if second != nil {
            // f″ = −2 f f′ for tanh, f′(1 − 2f) for the sigmoid, φ(a)(2 − a²) for GELU, 0 for the piecewise-linear ones.
            switch self {
            case .identity, .relu, .hardSigmoid:
                break
            case .gelu:
                for i in 0..<value.count {
                    let a = preactivation.elements[i]
                    second!.elements[i] = Self.normalDensity(a) * (2 - a * a)
                }
            case .tanh:
                for i in 0..<value.count { second!.elements[i] = -2 * value.elements[i] * derivative.elements[i] }
            case .sigmoid:
                for i in 0..<value.count { second!.elements[i] = derivative.elements[i] * (1 - 2 * value.elements[i]) }
            }
        }
        return (value, derivative, second)
    }

    /// The prediction error `e = x − f(a)` and its weighted form `g = e ⊙ f′(a)`, in one pass and
    /// without materialising `f(a)`: `g` is written over `preactivation`, `e` returned.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func predictionErrors<Scalar: BLASScalar>(of x: Matrix<Scalar>, preactivation: inout Matrix<Scalar>) -> Matrix<Scalar> {
        precondition(x.rows == preactivation.rows && x.columns == preactivation.columns, "the state and its prediction differ in shape")
        var error = Matrix<Scalar>(rows: x.rows, columns: x.columns)
        x.elements.withUnsafeBufferPointer { x in
            preactivation.elements.withUnsafeMutableBufferPointer { ag in
                error.elements.withUnsafeMutableBufferPointer { e in
                    withValueAndSlope { (valueAndSlope: (Scalar) -> (value: Scalar, slope: Scalar)) in
                        for i in ag.indices {
                            let (value, slope) = valueAndSlope(ag[i])
                            e[i] = x[i] - value
                            ag[i] = e[i] * slope
                        }
                    }
                }
            }
        }
        return error
    }
}

extension Matrix {
    /// The prediction error `e = self − value` and `g = e ⊙ derivative` for a prediction computed
    /// before (see ``Activation``), in one pass.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func predictionErrors(value: Matrix, derivative: Matrix) -> (error: Matrix, weighted: Matrix) {
        precondition(value.count == count && derivative.count == count, "the state and its prediction differ in shape")
        var error = Matrix(rows: rows, columns: columns), weighted = Matrix(rows: rows, columns: columns)
        elements.withUnsafeBufferPointer { x in
            value.elements.withUnsafeBufferPointer { f in
                derivative.elements.withUnsafeBufferPointer { d in
                    error.elements.withUnsafeMutableBufferPointer { e in
                        weighted.elements.withUnsafeMutableBufferPointer { g in
                            for i in x.indices {
                                e[i] = x[i] - f[i]
                                g[i] = e[i] * d[i]
                            }
                        }
                    }
                }
            }
        }
        return (error, weighted)
    }
}
