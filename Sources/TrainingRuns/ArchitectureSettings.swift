import EnergyBasedLearning

extension ArchitectureSpecification {
    /// The `architecture` section of `settings` (`architecture.layers`, and
    /// `architecture.interactions`, all dense if not given, and `architecture.gains`), validated: every error names the file and
    /// line, or the flag (`--layers`, `--interactions`), of the setting concerned.
    public init(settings: RunSettings) throws {
        let layers: [LayerShape] = try settings.required("architecture.layers")
        let forms: [InteractionForm] = try settings.optional("architecture.interactions")
            ?? Array(repeating: .dense, count: Swift.max(layers.count - 1, 0))
        if layers.count >= 2, forms.count != layers.count - 1 {
            throw settings.error("architecture.interactions", "expected \(layers.count - 1) interactions (one per layer after the input), got \(forms.count)")
        }
        self.init(layers: layers, interactions: forms.prefix(Swift.max(layers.count - 1, 0)).enumerated().map { $1.interaction(lower: $0) },
                  initialGains: try settings.optional("architecture.gains"))
        do {
            try validate()
        } catch let error as SpecificationError {
            throw settings.error(error.key, error.message)
        }
    }
}
