import LinearAlgebra

extension LayeredEnergy {
    /// The Hopfield-like energy of Scellier & Bengio (2017) on a layered network:
    ///
    /// `E(s) = ½ Σ_k ‖ρ(s_k)‖² − Σ_k W_k · ρ(s_k)ᵀρ(s_{k+1}) − Σ_k b_k · ρ(s_k)`,
    ///
    /// with the hard sigmoid `ρ(s) = clip(s, 0, 1)` and every non-input state kept in `[0, 1]`.
    /// Weights are Glorot-uniform, biases zero, as in the paper's code.
    public static func hopfield<G: RandomNumberGenerator>(layerSizes: [Int], using generator: inout G) -> LayeredEnergy {
        hopfield(architecture: ArchitectureSpecification(layerSizes: layerSizes), using: &generator)
    }

    /// The Hopfield energy on any layered architecture (validated, see
    /// ``ArchitectureSpecification/validate()``): each dense interaction a ``DenseInteraction``
    /// between the layers' units, each convolution a ``ConvolutionInteraction``, every non-input
    /// layer with its leak and a bias: per unit for a layer of units, per channel (shared by its
    /// pixels, ``Bias/pixels``) for a `C×H×W` layer. Weights are Glorot-uniform, `U(±√(6/(fan-in + fan-out)))`,
    /// a convolution's fans being `C_in·k·k` and `C_out·k·k` (as PyTorch and Keras count them), times
    /// the architecture's gains (``ArchitectureSpecification/initialWeight(of:using:)``); biases zero.
    public static func hopfield<G: RandomNumberGenerator>(architecture: ArchitectureSpecification, using generator: inout G) -> LayeredEnergy {
        let layerSizes = architecture.layerSizes
        precondition(layerSizes.count >= 2, "a network needs an input and an output layer")
        var terms: [any EnergyTerm<Scalar>] = []
        for interaction in architecture.interactions {
            let weight: Matrix<Scalar> = architecture.initialWeight(of: interaction, using: &generator)
            switch interaction {
            case let .dense(lower, upper):
                terms.append(DenseInteraction(lower: lower, upper: upper, weight: weight))
            case let .convolution(lower, upper, _, _, _, _):
                guard let (geometry, pooling) = try? architecture.convolution(of: interaction) else {
                    preconditionFailure("\(interaction) does not fit its layers: validate the architecture first")
                }
                terms.append(ConvolutionInteraction(lower: lower, upper: upper, geometry: geometry, pooling: pooling, weight: weight))
            }
        }
        for (k, shape) in architecture.layers.enumerated().dropFirst() {
            terms.append(QuadraticLeak(layer: k))
            if shape.dimensions.count == 3 {
                terms.append(Bias(layer: k, bias: Matrix(rows: 1, columns: shape.dimensions[0]),
                                  pixels: shape.dimensions[1] * shape.dimensions[2]))
            } else {
                terms.append(Bias(layer: k, bias: Matrix(rows: 1, columns: layerSizes[k])))
            }
        }
        return LayeredEnergy(layerSizes: layerSizes, terms: terms,
                             stateBounds: [nil] + Array(repeating: 0...1, count: layerSizes.count - 1))
    }

    /// The Hopfield energy with feedback gain `γ` (Xie & Seung 2003): the terms of layer `k` (its
    /// leak, its bias and its interaction with layer `k − 1`) weighted by `γ^k`,
    ///
    /// `E_γ(s) = Σ_k γ^k (½‖ρ(s_k)‖² − ρ(s_{k−1})W_{k−1}ρ(s_k)ᵀ − b_k·ρ(s_k))`,
    ///
    /// so that layer `k` settles at `ρ(s_{k−1}W_{k−1} + b_k + γ·s_{k+1}W_kᵀ)`: feedforward drive
    /// plus feedback scaled by `γ`. Its dynamics need a step `ε·γ^{−k}` for layer `k`
    /// (``ProjectedGradientDescent/layerStepScales``, ``feedbackStepScales(layerCount:feedbackGain:)``).
    public static func hopfield<G: RandomNumberGenerator>(layerSizes: [Int], feedbackGain: Scalar, using generator: inout G) -> LayeredEnergy {
        hopfield(architecture: ArchitectureSpecification(layerSizes: layerSizes), feedbackGain: feedbackGain, using: &generator)
    }

    /// ``hopfield(architecture:using:)`` with feedback gain `γ`, as above.
    public static func hopfield<G: RandomNumberGenerator>(architecture: ArchitectureSpecification, feedbackGain: Scalar,
                                                          using generator: inout G) -> LayeredEnergy {
        precondition(feedbackGain > 0 && feedbackGain <= 1, "the feedback gain γ is in (0, 1]")
        var energy = hopfield(architecture: architecture, using: &generator)
        energy.terms = energy.terms.map { term in
            ScaledTerm(term, by: Scalar.pow(feedbackGain, term.layers.max() ?? 0))
        }
        return energy
    }

    /// `γ^{−k}` for each layer `k`: the per-layer step scales that make projected gradient descent
    /// on the weak-feedback energy the dynamics of Xie & Seung.
    public static func feedbackStepScales(layerCount: Int, feedbackGain: Scalar) -> [Scalar] {
        (0..<layerCount).map { Scalar.pow(feedbackGain, -$0) }
    }
}
