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

    /// `max |f′|`.
    public var maximumSlope: Double {
        switch self {
        case .identity, .relu, .tanh, .hardSigmoid: 1
        case .sigmoid: 0.25
        }
    }

    /// `f(a)`, `f′(a)` and `f″(a)` for every element of `preactivation`, one pass per activation
    /// kind (the switch sits outside the loop so that each loop vectorises).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func evaluate<Scalar: BLASScalar>(_ preactivation: Matrix<Scalar>, secondDerivative: Bool = false)
        -> (value: Matrix<Scalar>, derivative: Matrix<Scalar>, secondDerivative: Matrix<Scalar>?)
    {
        var value = preactivation
        var derivative = Matrix<Scalar>(rows: preactivation.rows, columns: preactivation.columns, repeating: 1)
        var second: Matrix<Scalar>? = secondDerivative ? Matrix(rows: preactivation.rows, columns: preactivation.columns) : nil
        value.elements.withUnsafeMutableBufferPointer { f in
            derivative.elements.withUnsafeMutableBufferPointer { d in
                switch self {
                case .identity:
                    break
                case .relu:
                    for i in f.indices {
                        let positive = f[i] > 0
                        d[i] = positive ? 1 : 0
                        f[i] = positive ? f[i] : 0
                    }
                case .hardSigmoid:
                    for i in f.indices {
                        let inside = f[i] > 0 && f[i] < 1
                        d[i] = inside ? 1 : 0
                        f[i] = Swift.min(Swift.max(f[i], 0), 1)
                    }
                case .tanh:
                    for i in f.indices {
                        let t = Scalar.tanh(f[i])
                        f[i] = t
                        d[i] = 1 - t * t
                    }
                case .sigmoid:
                    for i in f.indices {
                        let s = 1 / (1 + Scalar.exp(-f[i]))
                        f[i] = s
                        d[i] = s * (1 - s)
                    }
                }
            }
        }
        if second != nil {
            // f″ = −2 f f′ for tanh, f′(1 − 2f) for the sigmoid, 0 for the piecewise-linear ones.
            switch self {
            case .identity, .relu, .hardSigmoid:
                break
            case .tanh:
                for i in 0..<value.count { second!.elements[i] = -2 * value.elements[i] * derivative.elements[i] }
            case .sigmoid:
                for i in 0..<value.count { second!.elements[i] = derivative.elements[i] * (1 - 2 * value.elements[i]) }
            }
        }
        return (value, derivative, second)
    }
}
