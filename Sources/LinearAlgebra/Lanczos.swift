/// The extreme eigenvalues of a symmetric linear operator on `ℝⁿ`, known only by its products
/// `v ↦ Av`: the Lanczos process with full reorthogonalisation for `k = min(n, maximumIterations)`
/// steps, then the extreme eigenvalues of the `k × k` tridiagonal matrix it builds, by bisection on
/// Sturm sequences. With `k = n` they are the operator's own (to rounding); with fewer steps the
/// extremes converge first.
public enum Lanczos {
    /// `(smallest, largest)` eigenvalue of `apply`, an `n`-dimensional symmetric operator; `nil` for `n = 0`.
    public static func extremeEigenvalues(dimension n: Int, maximumIterations: Int = 300, seed: UInt64 = 1,
                                          apply: ([Double]) -> [Double]) -> (smallest: Double, largest: Double)? {
        guard n > 0 else { return nil }
        var generator = SeededGenerator(seed: seed)
        var q = (0..<n).map { _ in Double.random(in: -1...1, using: &generator) }
        normalize(&q)
        var basis: [[Double]] = []
        var diagonal: [Double] = [], offDiagonal: [Double] = []
        for _ in 0..<min(n, maximumIterations) {
            basis.append(q)
            var w = apply(q)
            let alpha = dot(w, q)
            diagonal.append(alpha)
            // Full reorthogonalisation, twice (Kahan's "twice is enough").
            for _ in 0..<2 {
                for vector in basis {
                    let projection = dot(w, vector)
                    for i in 0..<n { w[i] -= projection * vector[i] }
                }
            }
            let beta = dot(w, w).squareRoot()
            guard beta > 1e-12 * max(1, abs(alpha)), basis.count < n else { break }
            offDiagonal.append(beta)
            q = w.map { $0 / beta }
        }
        offDiagonal = Array(offDiagonal.prefix(diagonal.count - 1))
        return (eigenvalue(0, diagonal, offDiagonal), eigenvalue(diagonal.count - 1, diagonal, offDiagonal))
    }

    /// The `index`-th smallest eigenvalue of the symmetric tridiagonal matrix (`diagonal`,
    /// `offDiagonal`), by bisection: the number of eigenvalues below `x` is the number of negative
    /// pivots of `T − xI`.
    static func eigenvalue(_ index: Int, _ diagonal: [Double], _ offDiagonal: [Double]) -> Double {
        func below(_ x: Double) -> Int {
            var count = 0, pivot = 1.0
            for i in diagonal.indices {
                pivot = diagonal[i] - x - (i > 0 ? offDiagonal[i - 1] * offDiagonal[i - 1] / pivot : 0)
                if pivot == 0 { pivot = -1e-300 }
                if pivot < 0 { count += 1 }
            }
            return count
        }
        // Gershgorin bounds every eigenvalue.
        var low = Double.infinity, high = -Double.infinity
        for i in diagonal.indices {
            let radius = (i > 0 ? abs(offDiagonal[i - 1]) : 0) + (i < offDiagonal.count ? abs(offDiagonal[i]) : 0)
            low = min(low, diagonal[i] - radius)
            high = max(high, diagonal[i] + radius)
        }
        for _ in 0..<200 where high - low > 1e-15 * max(1, abs(low), abs(high)) {
            let middle = (low + high) / 2
            if below(middle) > index { high = middle } else { low = middle }
        }
        return (low + high) / 2
    }

    private static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var total = 0.0
        for i in a.indices { total += a[i] * b[i] }
        return total
    }

    private static func normalize(_ v: inout [Double]) {
        let norm = dot(v, v).squareRoot()
        for i in v.indices { v[i] /= norm }
    }
}
