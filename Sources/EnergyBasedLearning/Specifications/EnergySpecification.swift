import LinearAlgebra

/// The energy a network minimises (the run file's `energy` section), built on an
/// ``ArchitectureSpecification``. Weights are Glorot-uniform, biases zero, as in the code of
/// Scellier & Bengio (2017).
public enum EnergySpecification: Codable, Sendable, Equatable {
    /// The Hopfield energy of Scellier & Bengio (2017), states in `[0, 1]`
    /// (``LayeredEnergy/hopfield(layerSizes:using:)``).
    case hopfield
    /// The predictive-coding energy (``LayeredEnergy/predictiveCoding(layerSizes:hidden:output:precisions:using:)``),
    /// hidden layers with activation `hidden`, the output with `output`; its free phase is the
    /// feed-forward pass.
    case predictiveCoding(hidden: Activation, output: Activation)

    /// The energies by name, as run files and the command line spell them (`energy.kind`, `--energy`).
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case hopfield
        case pc
    }

    public var kind: Kind {
        switch self {
        case .hopfield: .hopfield
        case .predictiveCoding: .pc
        }
    }

    /// Whether the free phase is the feed-forward pass, exact, rather than a relaxation.
    public var hasFeedForwardFreePhase: Bool { kind == .pc }

    /// The energy on `architecture`, its weights drawn from `generator`. Two of its properties are a
    /// rule's nudge (see ``RuleSpecification/energyProperties``): the output precision `π_L` of the
    /// predictive-coding energy (the other precisions are 1) and the feedback gain `γ` of the
    /// Hopfield energy (Xie & Seung 2003; 1 is the plain energy).
    public func make<Scalar: BLASScalar>(architecture: ArchitectureSpecification, outputPrecision: Double = 1, feedbackGain: Double = 1,
                                         using generator: inout SeededGenerator) -> LayeredEnergy<Scalar> {
        let sizes = architecture.layerSizes
        switch self {
        case .hopfield where feedbackGain == 1:
            return .hopfield(architecture: architecture, using: &generator)
        case .hopfield:
            return .hopfield(architecture: architecture, feedbackGain: Scalar(feedbackGain), using: &generator)
        case let .predictiveCoding(hidden, output):
            var precisions = [Scalar](repeating: 1, count: sizes.count - 1)
            precisions[precisions.count - 1] = Scalar(outputPrecision)
            return .predictiveCoding(architecture: architecture, hidden: hidden, output: output, precisions: precisions, using: &generator)
        }
    }

    /// The per-layer factors on the step size that the energy's dynamics need: `γ^{−k}` for layer
    /// `k` of the weak-feedback energy (``LayeredEnergy/feedbackStepScales(layerCount:feedbackGain:)``),
    /// `nil` (1 for every layer) otherwise.
    public func layerStepScales<Scalar: BLASScalar>(layerCount: Int, feedbackGain: Double) -> [Scalar]? {
        feedbackGain == 1 ? nil : LayeredEnergy.feedbackStepScales(layerCount: layerCount, feedbackGain: Scalar(feedbackGain))
    }
}
