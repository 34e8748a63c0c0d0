import Datasets
import EnergyBasedLearning
import Foundation

/// A whole run, as a run file describes it: the data (``DataSpecification``) and how the network
/// learns (``LearningSpecification``: seed, architecture, energy, dynamics, rule, training).
public struct RunSpecification: Codable, Sendable, Equatable {
    public var data: DataSpecification
    public var learning: LearningSpecification

    public init(data: DataSpecification, learning: LearningSpecification) {
        self.data = data
        self.learning = learning
    }

    /// Reads `settings` section by section, refuses every setting that does not apply (a rule's
    /// setting another rule does not take, a flag for a phase the rule does not have) and validates
    /// the whole. Every error names the file and line, or the flag, of the setting concerned.
    public init(settings: RunSettings) throws {
        data = DataSpecification(dataset: try settings.optional("dataset") ?? .mnist, pixels: try settings.optional("pixels") ?? .unit,
                                 validation: try settings.optional("validation") ?? 0)
        if data.validation < 0 { throw settings.error("validation", "expected 0 or a positive number of examples held out, got \(data.validation)") }
        let seed: UInt64 = try settings.required("seed")
        let architecture = try ArchitectureSpecification(settings: settings)
        let energy = try Self.energy(settings)
        let dynamics = DynamicsSpecification(
            minimizer: try settings.optional("dynamics.minimizer") ?? .gradientDescent,
            secondPhaseMinimizer: try settings.optional("dynamics.nudged-minimizer"),
            stepSize: try settings.optional("dynamics.epsilon"), overrelaxation: try settings.optional("dynamics.overrelaxation"), freeSteps: try settings.optional("dynamics.free-steps"),
            nudgedSteps: try settings.required("dynamics.nudged-steps"), tolerance: try settings.optional("dynamics.tolerance"),
            noise: try settings.optional("dynamics.noise") ?? 0,
            stableSteps: try settings.optional("dynamics.stable-steps") ?? false,
            persistentParticles: try settings.optional("dynamics.persistent-particles") ?? false)
        let rule = try RuleSpecification(settings: settings)
        if !rule.hasSecondPhase, energy.hasFeedForwardFreePhase {
            // Nothing relaxes: a flag for the dynamics would be dropped.
            for key in ["dynamics.minimizer", "dynamics.nudged-minimizer", "dynamics.epsilon", "dynamics.overrelaxation", "dynamics.nudged-steps",
                        "dynamics.noise", "dynamics.stable-steps"] {
                if case .flag? = settings[key]?.origin {
                    throw settings.error(key, "rule \(rule.name.rawValue) relaxes nothing on the \(energy.kind.rawValue) energy (the free phase is the feed-forward pass, and it has no second phase)")
                }
            }
        }
        let training = TrainingSpecification(
            epochs: try settings.required("training.epochs"), batchSize: try settings.required("training.batch-size"),
            learningRates: try settings.required("training.learning-rates"), optimizer: try settings.optional("training.optimizer") ?? .sgd,
            schedule: try settings.optional("training.schedule") ?? .constant, weightDecay: try settings.optional("training.weight-decay") ?? 0,
            cost: try settings.optional("training.cost") ?? .squaredError, randomShift: try settings.optional("training.random-shift") ?? 0,
            horizontalFlip: try settings.optional("training.horizontal-flip") ?? false)
        learning = LearningSpecification(seed: seed, architecture: architecture, energy: energy, dynamics: dynamics, rule: rule, training: training)
        do {
            try learning.validate()
        } catch let error as SpecificationError {
            throw settings.error(error.key, error.message)
        }
    }

    private static func energy(_ settings: RunSettings) throws -> EnergySpecification {
        switch try settings.optional("energy.kind") ?? EnergySpecification.Kind.hopfield {
        case .hopfield:
            for key in ["energy.hidden-activation", "energy.output-activation"] {
                try settings.refuse(key, because: "the hopfield energy has no activations (its states are kept in [0, 1]); only the pc energy takes them")
            }
            return .hopfield
        case .pc:
            return .predictiveCoding(hidden: try settings.optional("energy.hidden-activation") ?? .relu,
                                     output: try settings.optional("energy.output-activation") ?? .identity)
        }
    }

    /// This run as a run file's text (with `output`, if given), which ``RunFile/init(yaml:file:)`` reads
    /// back to the same run.
    public func yaml(output: String? = nil) -> String {
        let l = learning
        func list<T>(_ values: [T]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
        var lines = ["dataset: \(data.dataset.rawValue)", "pixels: \(data.pixels.rawValue)", "validation: \(data.validation)", "seed: \(l.seed)"]
        // A JSON string is a double-quoted YAML scalar.
        if let output, let quoted = try? JSONEncoder.withoutEscapingSlashes.encode(output) { lines.append("output: \(String(decoding: quoted, as: UTF8.self))") }
        lines += ["architecture:", "  layers: \(list(l.architecture.layers.map(\.runFileText)))"]
        if l.architecture.hasConvolution { lines.append("  interactions: \(list(l.architecture.interactions.map { InteractionForm($0).runFileText }))") }
        if let gains = l.architecture.initialGains { lines.append("  gains: \(list(gains))") }
        lines += ["energy:", "  kind: \(l.energy.kind.rawValue)"]
        if case let .predictiveCoding(hidden, output) = l.energy {
            lines += ["  hidden-activation: \(hidden.rawValue)", "  output-activation: \(output.rawValue)"]
        }
        lines.append("dynamics:")
        if l.dynamics.minimizer != .gradientDescent { lines.append("  minimizer: \(l.dynamics.minimizer.rawValue)") }
        if let second = l.dynamics.secondPhaseMinimizer { lines.append("  nudged-minimizer: \(second.rawValue)") }
        if let stepSize = l.dynamics.stepSize { lines.append("  epsilon: \(stepSize)") }
        if let overrelaxation = l.dynamics.overrelaxation { lines.append("  overrelaxation: \(overrelaxation)") }
        if let freeSteps = l.dynamics.freeSteps { lines.append("  free-steps: \(freeSteps)") }
        lines.append("  nudged-steps: \(l.dynamics.nudgedSteps)")
        if let tolerance = l.dynamics.tolerance { lines.append("  tolerance: \(tolerance)") }
        lines += ["  noise: \(l.dynamics.noise)", "  stable-steps: \(l.dynamics.stableSteps)"]
        if !l.energy.hasFeedForwardFreePhase { lines.append("  persistent-particles: \(l.dynamics.persistentParticles)") }
        lines += ["rule:", "  name: \(l.rule.name.rawValue)"] + l.rule.settings.map { "  \($0.name): \($0.value)" }
        let t = l.training
        lines += ["training:", "  epochs: \(t.epochs)", "  batch-size: \(t.batchSize)", "  learning-rates: \(list(t.learningRates))",
                  "  optimizer: \(t.optimizer.rawValue)", "  schedule: \(t.schedule.rawValue)", "  weight-decay: \(t.weightDecay)", "  cost: \(t.cost.rawValue)"]
        if t.randomShift > 0 { lines.append("  random-shift: \(t.randomShift)") }
        if t.horizontalFlip { lines.append("  horizontal-flip: true") }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension RuleSpecification {
    /// The rule named by `rule.name`, with its own settings (those of the `rule` section); any other
    /// `rule.` setting is refused, naming the settings the rule does take.
    public init(settings: RunSettings) throws {
        let name: RuleName = try settings.required("rule.name")
        for key in settings.keys.sorted() where key.hasPrefix("rule.") && key != "rule.name" {
            let setting = String(key.dropFirst("rule.".count))
            guard !name.settings.contains(setting) else { continue }
            let own = name.settings.isEmpty ? "it takes no settings" : "its settings: " + name.settings.joined(separator: ", ")
            let hint = setting == "beta" && name.nudgeName != nil && name.nudgeName != "β"
                ? "; its nudge \(name.nudgeName!) is \(name.settings[0]) (earlier versions of EqProp called every rule's nudge beta)" : ""
            throw settings.error(key, "rule \(name.rawValue) does not take \(setting) (\(own))\(hint)")
        }
        let nudging: Nudging = try settings.optional("rule.nudging") ?? .positive
        switch name {
        case .ep: self = .ep(beta: try settings.required("rule.beta"), nudging: nudging)
        case .stdp: self = .stdp(beta: try settings.required("rule.beta"), nudging: nudging, form: try settings.optional("rule.stdp-form") ?? .symmetric)
        case .chl: self = .chl(feedbackGain: try settings.optional("rule.feedback-gain") ?? 1)
        case .cpl: self = .cpl(beta: try settings.required("rule.beta"), nudging: nudging)
        case .pc: self = .pc(outputPrecision: try settings.required("rule.output-precision"))
        case .pcNudge: self = .pcNudge(lambda: try settings.required("rule.lambda"))
        case .bp: self = .bp
        case .tbp: self = .tbp
        case .rbp: self = .rbp
        }
    }
}
