import LinearAlgebra

extension LayeredEnergy {
    /// The Hopfield-like energy of Scellier & Bengio (2017) on a layered network:
    ///
    /// `E(s) = ½ Σ_k ‖ρ(s_k)‖² − Σ_k W_k · ρ(s_k)ᵀρ(s_{k+1}) − Σ_k b_k · ρ(s_k)`,
    ///
    /// with the hard sigmoid `ρ(s) = clip(s, 0, 1)` and every non-input state kept in `[0, 1]`.
    /// Weights are Glorot-uniform, biases zero, as in the paper's code.
    public static func hopfield<G: RandomNumberGenerator>(layerSizes: [Int], using generator: inout G) -> LayeredEnergy {
        precondition(layerSizes.count >= 2, "a network needs an input and an output layer")
        var terms: [any EnergyTerm<Scalar>] = []
        for k in 0..<(layerSizes.count - 1) {
            terms.append(DenseInteraction(
                lower: k, upper: k + 1,
                weight: .glorotUniform(fanIn: layerSizes[k], fanOut: layerSizes[k + 1], using: &generator)))
        }
        for k in 1..<layerSizes.count {
            terms.append(QuadraticLeak(layer: k))
            terms.append(Bias(layer: k, bias: Matrix(rows: 1, columns: layerSizes[k])))
        }
        return LayeredEnergy(layerSizes: layerSizes, terms: terms,
                             stateBounds: [nil] + Array(repeating: 0...1, count: layerSizes.count - 1))
    }
}
