import Foundation

public enum Poisson {
    /// A draw from the Poisson distribution with mean `λ`: the spike count of a Poisson neuron of
    /// rate `r` in a bin of length `dt`, with `λ = r·dt`.
    ///
    /// Knuth's method (multiply uniforms until the product falls below `e^{−λ}`), on chunks of
    /// mean at most 16 so that `e^{−λ}` never underflows; the sum of independent Poisson counts
    /// is Poisson with the summed mean.
    public static func count<G: RandomNumberGenerator>(mean: Double, using generator: inout G) -> Int {
        precondition(mean >= 0 && mean.isFinite, "a Poisson mean must be finite and non-negative")
        var remaining = mean
        var count = 0
        while remaining > 0 {
            let chunk = Swift.min(remaining, 16)
            remaining -= chunk
            let threshold = exp(-chunk)
            var product = Double.random(in: 0..<1, using: &generator)
            while product > threshold {
                count += 1
                product *= Double.random(in: 0..<1, using: &generator)
            }
        }
        return count
    }
}
