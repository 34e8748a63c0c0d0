import LinearAlgebra

/// How close an estimated gradient `ĝ` is to a reference `g`: the cosine `⟨ĝ, g⟩ / (‖ĝ‖‖g‖)` and
/// the relative error `‖ĝ − g‖ / ‖g‖`, overall and for each named part that has parameters (a
/// term's parameters). A part whose reference is zero has an undefined cosine (`nan`).
public struct GradientComparison: Sendable, Equatable, Codable {
    public struct Part: Sendable, Equatable, Codable {
        public var name: String
        public var cosine: Double
        public var relativeError: Double
    }

    public var cosine: Double
    public var relativeError: Double
    public var parts: [Part]

    /// Compares `estimate` with `reference`, both one array of matrices per named part.
    public init<Scalar: BLASScalar>(estimate: [[Matrix<Scalar>]], reference: [[Matrix<Scalar>]], names: [String]) {
        precondition(estimate.count == reference.count && names.count == reference.count, "mismatched gradients")
        func statistics(_ pairs: [(Matrix<Scalar>, Matrix<Scalar>)]) -> (cosine: Double, relativeError: Double) {
            var dot = 0.0, estimateNorm² = 0.0, referenceNorm² = 0.0, difference² = 0.0
            for (e, r) in pairs {
                dot += e.dot(r)
                estimateNorm² += e.dot(e)
                referenceNorm² += r.dot(r)
                let d = e - r
                difference² += d.dot(d)
            }
            return (dot / (estimateNorm² * referenceNorm²).squareRoot(), (difference² / referenceNorm²).squareRoot())
        }
        let all = zip(estimate, reference).flatMap { zip($0, $1).map { ($0, $1) } }
        (cosine, relativeError) = statistics(all)
        parts = names.indices.filter { !reference[$0].isEmpty }.map { i in
            let s = statistics(zip(estimate[i], reference[i]).map { ($0, $1) })
            return Part(name: names[i], cosine: s.cosine, relativeError: s.relativeError)
        }
    }
}
