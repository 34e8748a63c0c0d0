import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import TrainingRuns

struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a rule's gradient estimate with the exact gradient, in Double.",
        discussion: """
            On a small seeded network and batch: relax to the free fixed point, compute dL/dθ exactly (implicit \
            differentiation on the Hopfield energy, backprop through the feed-forward network on the predictive-coding \
            energy and for weak-feedback CHL), then the rule's estimate (averaged over --samples draws of its noise). The \
            rule is named as for `eqprop train`, its nudge 0.01 unless its flag gives it: \
            \(RuleName.allCases.map { "\($0.rawValue), \($0.summary)" }.joined(separator: "; ")).

            The comparison is made only where the theorem holds: the free phase reached a fixed point, it is a strict \
            minimum (the Hessian on the units inside their box positive definite), no unit sits on its box's boundary \
            without a force holding it (the loss is not differentiable there), and dL/dθ is not zero. Otherwise the \
            status (not-converged, not-a-minimum, on-the-boundary, zero-gradient) is printed with why, the cosine is \
            null in JSON, and the exit status is 3. With several seeds (--seeds 1-50) each is checked and summarised; the \
            exit status is 3 if none is valid.
            """)

    @OptionGroup var ruleOptions: RuleOptions
    @Option(help: "The energy: hopfield or pc (default: pc for pc, pc-nudge and bp, else hopfield).") var energy: EnergySpecification.Kind?
    @Option(help: "The output cost: squared-error or cross-entropy (of the softmax).") var cost: CostName = .squaredError
    @Option(name: .customLong("hidden-activation"), help: "PC energy: activation of the hidden layers.") var hidden: Activation = .tanh
    @Option(name: .customLong("output-activation"), help: "PC energy: activation of the output layer.") var output: Activation = .identity
    @Option(parsing: .unconditional, help: "Steps of the rule's second phase (default: relaxed until no state moves by more than 1e-14; 200 for stdp, tbp and rbp).")
    var nudgedSteps: Int?
    @Option(parsing: .unconditional, help: "Langevin noise level σ of the second phase (with a fixed number of steps).") var noise: Double = 0
    @Option(parsing: .unconditional, help: "Draws of the rule's noise to average.") var samples: Int = 1
    @Option(help: ArgumentHelp("Layers, input first: sizes, or shapes CxHxW for convolutional layers (default: 12,10,8,4).", valueName: "layers"))
    var layers: String?
    @Option(help: ArgumentHelp("How each layer after the input meets the one below: dense, or convK[/sS][/pP][/poolM] (pooling on the Hopfield energy only), e.g. conv3/p1/pool2,dense (default: all dense).", valueName: "list"))
    var interactions: String?
    @Flag(help: "Draw each seed's layer sizes from the seed too: 4–24 inputs, one to three hidden layers of 4–32 units, 2–10 outputs.")
    var randomShapes = false
    @Option(parsing: .unconditional) var batchSize: Int = 5
    @Option(name: [.customLong("seed"), .customLong("seeds")], help: ArgumentHelp("The seed of the network and batch, or several for a survey (1-50, 1,4,9).", valueName: "seeds"))
    var seeds = "1"
    @Option(parsing: .unconditional, help: "Step size ε of gradient descent (default: 0.5 on the Hopfield energy, 0.1 on the PC energy).")
    var epsilon: Double?
    @Option(help: "How every phase relaxes: gradient-descent or exact-block (each layer set to its minimum; the Hopfield energy).")
    var minimizer: DynamicsSpecification.Minimizer = .gradientDescent
    @Option(parsing: .unconditional, help: "exact-block: the over-relaxation factor ω in (0, 2).") var overrelaxation: Double?
    @Flag(help: "Print JSON.") var json = false
    // Flags of earlier versions, refused with what to write instead.
    @Option(parsing: .unconditional, help: .hidden) var nudge: Double?
    @Option(help: .hidden) var form: String?

    func validate() throws {
        if nudge != nil {
            throw ValidationError("--nudge: give the rule's own nudge: " + RuleName.allCases.compactMap { name in name.nudgeSetting.map { "--\($0) (\(name.rawValue))" } }.joined(separator: ", "))
        }
        if form != nil { throw ValidationError("--form: the STDP rule's form is now --stdp-form") }
        guard batchSize > 0 else { throw ValidationError("--batch-size: expected a positive number, got \(batchSize)") }
        guard noise >= 0, noise.isFinite else { throw ValidationError("--noise: expected a finite σ ≥ 0, got \(noise)") }
        guard samples >= 1 else { throw ValidationError("--samples: expected at least 1, got \(samples)") }
        if let nudgedSteps, nudgedSteps < 1 { throw ValidationError("--nudged-steps: expected at least 1, got \(nudgedSteps)") }
        if let epsilon, !(epsilon > 0 && epsilon <= 1) { throw ValidationError("--epsilon: expected a step size in (0, 1], got \(epsilon)") }
    }

    func run() throws {
        if randomShapes, let layers { throw ValidationError("--layers: give either --layers \(layers) or --random-shapes") }
        if randomShapes, let interactions { throw ValidationError("--interactions: random shapes are dense; give --layers with --interactions \(interactions)") }
        let givenArchitecture = try architecture(layers: layers ?? "12,10,8,4", interactions: interactions)
        if givenArchitecture.hasPooling, minimizer == .exactBlock {
            throw ValidationError("--minimizer: exact-block does not apply with max pooling (the energy is concave in the layer below a pooled convolution); use gradient-descent")
        }
        let requested = ruleOptions.rule.flatMap(RuleName.init(rawValue:))
        let energy = energy ?? ([.pc, .pcNudge, .bp].contains(requested) ? .pc : .hopfield)
        // The default nudge; CHL on the predictive-coding energy has none (plain CHL).
        let rule = try ruleOptions.specification(default: .ep) { name in name == .chl && energy == .pc ? 1 : 0.01 }
        let exactBlock = minimizer == .exactBlock
        if exactBlock, let epsilon { throw ValidationError("--epsilon: the exact-block minimizer takes no step size (\(epsilon) given); --overrelaxation sets its ω") }
        let epsilon = epsilon ?? (energy == .pc ? 0.1 : 0.5)
        let fixedSteps = nudgedSteps ?? ([.stdp, .tbp, .rbp].contains(rule.name) ? 200 : nil)
        if noise > 0, fixedSteps == nil { throw ValidationError("--noise: give --nudged-steps too (a noisy phase never settles to a tolerance)") }
        let energySpecification: EnergySpecification = energy == .pc ? .predictiveCoding(hidden: hidden, output: output) : .hopfield
        do {
            let dynamics = DynamicsSpecification(minimizer: minimizer, stepSize: exactBlock ? nil : epsilon, overrelaxation: overrelaxation,
                                                 freeSteps: energy == .pc ? nil : 1, nudgedSteps: fixedSteps ?? 1, noise: noise)
            try dynamics.validate(energy: energySpecification)
            try rule.validate(energy: energySpecification, dynamics: dynamics, cost: cost)
        } catch let error as SpecificationError {
            let flag = error.key == "energy.kind" ? "energy" : error.key.split(separator: ".").last.map(String.init) ?? error.key
            throw ValidationError("--\(flag): \(error.message)")
        }
        let properties = rule.energyProperties
        let weakFeedback = properties.feedbackGain != 1
        let reference: GradientCheck.Reference = energy == .pc || weakFeedback ? .backpropagation : .implicitDifferentiation
        if givenArchitecture.hasConvolution, energy == .hopfield, weakFeedback {
            throw ValidationError("--interactions: a convolution is implemented on the plain Hopfield and pc energies, not on the weak-feedback energy of \(rule.name.rawValue)")
        }
        if givenArchitecture.hasPooling, energy == .pc {
            throw ValidationError("--interactions: no pooling with the pc energy (a prediction f(conv(x) + b) has none)")
        }
        func check(seed: UInt64) throws -> GradcheckReport {
            let architecture = randomShapes ? ArchitectureSpecification(layerSizes: GradientCheck.randomLayerSizes(seed: seed)) : givenArchitecture
            let sizes = architecture.layerSizes
            var check = switch energy {
            case .hopfield where weakFeedback:
                GradientCheck.weakFeedback(layerSizes: sizes, feedbackGain: properties.feedbackGain, batchSize: batchSize, seed: seed, stepSize: epsilon)
            case .hopfield: GradientCheck(architecture: architecture, batchSize: batchSize, seed: seed, stepSize: epsilon)
            case .pc: try GradientCheck.predictiveCoding(
                architecture: architecture, hidden: hidden, output: output,
                precisions: Array(repeating: 1, count: sizes.count - 2) + [properties.outputPrecision],
                batchSize: batchSize, seed: seed, inferenceRate: epsilon)
            }
            check.cost = cost.cost(Double.self)
            let secondPhase: any Dynamics<Double>
            if exactBlock {
                check.dynamics = ExactBlockDescent(steps: 200_000, tolerance: 1e-14, overrelaxation: overrelaxation ?? 1)
                secondPhase = fixedSteps.map { ExactBlockDescent(steps: $0, overrelaxation: overrelaxation ?? 1) } ?? check.dynamics
            } else {
                secondPhase = ProjectedGradientDescent(
                    stepSize: epsilon, steps: fixedSteps ?? 200_000, tolerance: fixedSteps == nil ? 1e-14 : nil, noise: noise,
                    layerStepScales: weakFeedback ? LayeredEnergy.feedbackStepScales(layerCount: sizes.count, feedbackGain: properties.feedbackGain) : nil)
            }
            let report = try check.report(rule.make(cost: check.cost, dynamics: secondPhase, layerCount: sizes.count), samples: samples, reference: reference)
            return GradcheckReport(rule: rule.name.rawValue, description: rule.summary, energy: energy.rawValue, reference: reference.rawValue,
                                   nudge: rule.nudge, noise: noise, samples: samples, layers: sizes, architecture: architecture.summary, batchSize: batchSize, seed: seed,
                                   hypotheses: report.hypotheses, comparison: report.comparison)
        }
        let seedList = try parseSeeds(seeds, flag: "seeds")
        let noisy = noise > 0 ? ", σ = \(noise), \(samples) samples" : ""
        let shape = randomShapes ? "random shapes" : givenArchitecture.summary
        let relaxed = exactBlock ? ", relaxed by the exact-block minimizer" + (overrelaxation.map { " (ω \($0))" } ?? "") : ""
        let heading = "\(rule.summary)\(noisy)\(relaxed) on the \(energy.rawValue) energy \(shape), batch \(batchSize), against \(reference.rawValue)"
        if seedList.count == 1 {
            let report = try check(seed: seedList[0])
            if json {
                try printJSON(report)
            } else if let comparison = report.comparison {
                print("\(heading): cosine \(comparison.cosine), relative error \(comparison.relativeError)")
                for part in comparison.parts {
                    print("  \(part.name): cosine \(part.cosine), relative error \(part.relativeError)")
                }
                if let note = report.nudgeNote { print(note) }
            } else {
                print("\(heading), seed \(seedList[0]): \(report.hypotheses.status.rawValue): \(report.hypotheses.explanation ?? "")")
            }
            if report.comparison == nil { throw ExitCode(3) }
            return
        }
        if !json { print(heading + ":") }
        func shapeLabel(_ report: GradcheckReport) -> String { randomShapes ? " (" + report.layers.map(String.init).joined(separator: "-") + ")" : "" }
        var reports: [GradcheckReport] = []
        for seed in seedList {
            let report = try check(seed: seed)
            reports.append(report)
            guard !json else { continue }
            if let comparison = report.comparison {
                print("  seed \(seed)\(shapeLabel(report)): cosine \(comparison.cosine), relative error \(comparison.relativeError)"
                      + (report.nudgeNote.map { " (\($0))" } ?? ""))
            } else {
                print("  seed \(seed)\(shapeLabel(report)): \(report.hypotheses.status.rawValue): \(report.hypotheses.explanation ?? "")")
            }
        }
        let survey = GradcheckSurvey(reports)
        if json {
            try printJSON(GradcheckSurvey.Document(cases: reports, summary: survey))
        } else {
            print(survey.description)
        }
        if survey.valid == 0 { throw ExitCode(3) }
    }
}

/// A survey's summary over its seeds: how many cases the theorem held in, the cosine and relative
/// error over those, and how many failed each hypothesis.
struct GradcheckSurvey: Encodable, CustomStringConvertible {
    var cases: Int
    var valid: Int
    var statuses: [String: Int]
    var minimumCosine: Double?
    var medianCosine: Double?
    var medianRelativeError: Double?
    var maximumRelativeError: Double?
    /// Valid cases whose nudge is beyond their ``GradientCheck/Hypotheses/nudgeRange``, and the
    /// smallest cosine over the others.
    var beyondNudgeRange: Int
    var minimumCosineWithinNudgeRange: Double?

    struct Document: Encodable {
        var cases: [GradcheckReport]
        var summary: GradcheckSurvey
    }

    enum CodingKeys: String, CodingKey {
        case cases, valid, statuses, minimumCosine = "minimum_cosine", medianCosine = "median_cosine"
        case medianRelativeError = "median_relative_error", maximumRelativeError = "maximum_relative_error"
        case beyondNudgeRange = "beyond_nudge_range", minimumCosineWithinNudgeRange = "minimum_cosine_within_nudge_range"
    }

    init(_ reports: [GradcheckReport]) {
        let comparisons = reports.compactMap(\.comparison)
        func median(_ values: [Double]) -> Double? {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return nil }
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        cases = reports.count
        valid = comparisons.count
        statuses = Dictionary(reports.map { ($0.hypotheses.status.rawValue, 1) }, uniquingKeysWith: +)
        minimumCosine = comparisons.map(\.cosine).min()
        medianCosine = median(comparisons.map(\.cosine))
        medianRelativeError = median(comparisons.map(\.relativeError))
        maximumRelativeError = comparisons.map(\.relativeError).max()
        let beyond = reports.filter { $0.comparison != nil && $0.nudgeNote != nil }
        beyondNudgeRange = beyond.count
        minimumCosineWithinNudgeRange = reports.filter { $0.nudgeNote == nil }.compactMap(\.comparison?.cosine).min()
    }

    var description: String {
        let failures = GradientCheck.Hypotheses.Status.allCases.filter { $0 != .valid }
            .compactMap { status in statuses[status.rawValue].map { "\(status.rawValue) \($0)" } }
        var lines = ["\(valid) of \(cases) cases valid" + (failures.isEmpty ? "" : " (\(failures.joined(separator: ", ")))")]
        if let minimumCosine, let medianCosine, let medianRelativeError, let maximumRelativeError {
            lines.append("over the valid cases: cosine minimum \(minimumCosine), median \(medianCosine); "
                         + "relative error median \(medianRelativeError), maximum \(maximumRelativeError)")
        }
        if beyondNudgeRange > 0 {
            lines.append("\(beyondNudgeRange) valid case\(beyondNudgeRange == 1 ? " has its" : "s have their") nudge beyond the range where no unit crosses a bound; "
                         + "over the others the cosine is at least \(minimumCosineWithinNudgeRange.map { "\($0)" } ?? "undefined (none)")")
        }
        return lines.joined(separator: "\n")
    }
}

struct GradcheckReport: Encodable {
    var rule: String
    /// The rule with its settings, `ep (β 0.01, centered)`.
    var description: String
    var energy: String
    var reference: String
    var nudge: Double?
    var noise: Double
    var samples: Int
    var layers: [Int]
    /// The layers' shapes and the convolutions, `1×6×6-2×3×3-4 (convolution 0-1 (kernel 2, stride 2, padding 0))`.
    var architecture: String
    var batchSize: Int
    var seed: UInt64
    var hypotheses: GradientCheck.Hypotheses
    /// `nil` when the hypotheses do not hold: its values are written as `null`.
    var comparison: GradientComparison?

    /// Says when the nudge β of EP or STDP (whose nudged phase minimises `E + βC`) is beyond the
    /// range in which no unit crosses a bound of its box.
    var nudgeNote: String? {
        guard [.ep, .stdp].contains(RuleName(rawValue: rule)), let nudge, let range = hypotheses.nudgeRange, abs(nudge) > range else { return nil }
        return "the nudge \(nudge) is beyond \(range), where to first order a unit crosses a bound of its box: the estimate differences across a kink"
    }

    enum CodingKeys: String, CodingKey {
        case rule, description, energy, reference, nudge, noise, samples, layers, architecture, batchSize = "batch_size", seed, cosine, status, hypotheses
        case relativeError = "relative_error", parts = "per_layer"
    }
    struct Part: Encodable {
        var name: String
        var cosine: Double
        var relativeError: Double
        enum CodingKeys: String, CodingKey { case name, cosine, relativeError = "relative_error" }

        init(name: String, cosine: Double, relativeError: Double) {
            self.name = name
            self.cosine = cosine
            self.relativeError = relativeError
        }

        init(_ part: GradientComparison.Part) {
            self.init(name: part.name, cosine: part.cosine, relativeError: part.relativeError)
        }

        /// An undefined value (a part whose exact gradient is zero) is written as `null`.
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(cosine.isFinite ? cosine : nil, forKey: .cosine)
            try container.encode(relativeError.isFinite ? relativeError : nil, forKey: .relativeError)
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encode(description, forKey: .description)
        try container.encode(energy, forKey: .energy)
        try container.encode(reference, forKey: .reference)
        try container.encode(nudge, forKey: .nudge)
        try container.encode(noise, forKey: .noise)
        try container.encode(samples, forKey: .samples)
        try container.encode(layers, forKey: .layers)
        try container.encode(architecture, forKey: .architecture)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(seed, forKey: .seed)
        try container.encode(hypotheses.status, forKey: .status)
        try container.encode(hypotheses, forKey: .hypotheses)
        // An estimate of zero has no cosine: null, like every undefined value.
        try container.encode(comparison.flatMap { $0.cosine.isFinite ? $0.cosine : nil }, forKey: .cosine)
        try container.encode(comparison.flatMap { $0.relativeError.isFinite ? $0.relativeError : nil }, forKey: .relativeError)
        try container.encode(comparison?.parts.map(Part.init), forKey: .parts)
    }
}

/// The network of the `--layers` and `--interactions` flags, validated with the run file's parser:
/// an error names the flag.
func architecture(layers: String, interactions: String?) throws -> ArchitectureSpecification {
    var settings = RunSettings(source: "the command line")
    settings.set(RunKey.named("architecture.layers")!, fromFlag: layers)
    if let interactions { settings.set(RunKey.named("architecture.interactions")!, fromFlag: interactions) }
    do {
        return try ArchitectureSpecification(settings: settings)
    } catch let error as RunFileError {
        throw ValidationError(error.description)
    }
}

extension CostName: ExpressibleByArgument {}
extension EnergySpecification.Kind: ExpressibleByArgument {}
extension DynamicsSpecification.Minimizer: ExpressibleByArgument {}
