import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra

struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a rule's gradient estimate with the exact gradient, in Double.",
        discussion: """
            On a small seeded network and batch: relax to the free fixed point, compute dL/dθ exactly (implicit \
            differentiation on the Hopfield energy, backprop through the feed-forward network on the predictive-coding \
            energy and for weak-feedback CHL), then the rule's estimate at the given nudge (averaged over --samples draws of its noise).
            """)

    enum Rule: String, ExpressibleByArgument, CaseIterable {
        case ep, epSymmetric = "ep-symmetric", stdp, chl, pc, pcNudge = "pc-nudge"
    }

    enum Energy: String, ExpressibleByArgument, CaseIterable {
        case hopfield, pc
    }

    @Option(help: "The rule: ep, ep-symmetric, stdp, chl (contrastive Hebbian), pc (output clamped at the target), pc-nudge.")
    var rule: Rule = .ep
    @Option(parsing: .unconditional, help: "The nudge: β for ep and stdp, λ for pc-nudge, the output-to-hidden precision ratio for pc, the feedback gain γ for chl on the Hopfield energy (default 0.01).")
    var nudge: Double?
    @Option(parsing: .unconditional, help: "Nudging strength β (the same as --nudge).") var beta: Double?
    @Flag(help: "EP: symmetric ±β nudging (the same as --rule ep-symmetric).") var symmetric = false
    @Option(help: "The energy: hopfield or pc (default: pc for pc and pc-nudge, else hopfield).") var energy: Energy?
    @Option(help: "The output cost: squared-error or cross-entropy (of the softmax).") var cost: CostName = .squaredError
    @Option(name: .customLong("hidden-activation"), help: "PC energy: activation of the hidden layers.") var hidden: Activation = .tanh
    @Option(name: .customLong("output-activation"), help: "PC energy: activation of the output layer.") var output: Activation = .identity
    @Option(help: "STDP: symmetric or postsynaptic.") var form: STDPForm = .symmetric
    @Option(parsing: .unconditional, help: "STDP: steps of the nudged phase.") var nudgedSteps: Int = 200
    @Option(parsing: .unconditional, help: "STDP: Langevin noise level σ.") var noise: Double = 0
    @Option(parsing: .unconditional, help: "Draws of the rule's noise to average.") var samples: Int = 1
    @Option(help: ArgumentHelp("Layer sizes, input first.", valueName: "sizes")) var layers: String = "12,10,8,4"
    @Option(parsing: .unconditional) var batchSize: Int = 5
    @Option(parsing: .unconditional) var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Step size ε of the dynamics (default: 0.5 on the Hopfield energy, 0.1 on the PC energy).")
    var epsilon: Double?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let sizes: [Int] = try parseList(layers, flag: "layers")
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--layers: expected at least two positive sizes, got \(layers)")
        }
        let rule = symmetric && self.rule == .ep ? .epSymmetric : self.rule
        let energy = energy ?? ([.pc, .pcNudge].contains(rule) ? .pc : .hopfield)
        let nudge = nudge ?? beta ?? 0.01
        let epsilon = epsilon ?? (energy == .pc ? 0.1 : 0.5)
        guard batchSize > 0 else { throw ValidationError("--batch-size: expected a positive number, got \(batchSize)") }
        let nudgeFlag = self.nudge == nil && beta != nil ? "beta" : "nudge"
        guard nudge != 0, nudge.isFinite else {
            throw ValidationError("--\(nudgeFlag): expected a finite non-zero nudge (the update is divided by it), got \(nudge)")
        }
        if rule == .pc, nudge <= 0 { throw ValidationError("--\(nudgeFlag): expected a positive precision ratio for pc, got \(nudge)") }
        if [.pc, .pcNudge].contains(rule), energy != .pc {
            throw ValidationError("--energy: \(rule.rawValue) needs the predictive-coding energy (pc), got \(energy.rawValue)")
        }
        if rule == .stdp, energy != .hopfield { throw ValidationError("--energy: stdp runs on the hopfield energy, got \(energy.rawValue)") }
        guard epsilon > 0, epsilon <= 1 else { throw ValidationError("--epsilon: expected a step size in (0, 1], got \(epsilon)") }
        guard noise >= 0, noise.isFinite else { throw ValidationError("--noise: expected a finite σ ≥ 0, got \(noise)") }
        guard samples >= 1 else { throw ValidationError("--samples: expected at least 1, got \(samples)") }
        guard nudgedSteps >= 1 else { throw ValidationError("--nudged-steps: expected at least 1, got \(nudgedSteps)") }
        if rule == .chl, energy == .hopfield, !(nudge > 0 && nudge <= 1) {
            throw ValidationError("--\(nudgeFlag): expected a feedback gain γ in (0, 1] for chl, got \(nudge)")
        }
        let weakFeedback = rule == .chl && energy == .hopfield
        var check = switch energy {
        case .hopfield where weakFeedback:
            GradientCheck.weakFeedback(layerSizes: sizes, feedbackGain: nudge, batchSize: batchSize, seed: seed, stepSize: epsilon)
        case .hopfield: GradientCheck(layerSizes: sizes, batchSize: batchSize, seed: seed, stepSize: epsilon)
        case .pc: try GradientCheck.predictiveCoding(
            layerSizes: sizes, hidden: hidden, output: output,
            precisions: rule == .pc ? Array(repeating: 1, count: sizes.count - 2) + [nudge] : nil,
            batchSize: batchSize, seed: seed, inferenceRate: epsilon)
        }
        if [.pc, .chl].contains(rule), cost != .squaredError {
            throw ValidationError("--cost: \(rule.rawValue) clamps the output at the target, which descends the squared error only; got \(cost.rawValue)")
        }
        check.cost = cost.cost(Double.self)
        let reference: GradientCheck.Reference = energy == .pc || weakFeedback ? .backpropagation : .implicitDifferentiation
        let dynamics = check.dynamics
        let result: GradientComparison
        switch rule {
        case .ep, .epSymmetric:
            result = try check.compare(EquilibriumPropagation(beta: nudge, nudging: rule == .ep ? .oneSided : .symmetric,
                                                              cost: check.cost, dynamics: dynamics),
                                       reference: reference)
        case .stdp:
            result = try check.compare(RateSTDP(beta: nudge, form: form, stepSize: epsilon, steps: nudgedSteps, noise: noise, cost: check.cost),
                                       samples: samples, reference: reference)
        case .chl where weakFeedback:
            result = try check.compare(OutputClamping.weakFeedbackContrastiveHebbian(feedbackGain: nudge, outputLayer: sizes.count - 1,
                                                                                     dynamics: dynamics), reference: reference)
        case .chl:
            result = try check.compare(OutputClamping.contrastiveHebbian(dynamics: dynamics), reference: reference)
        case .pc:
            result = try check.compare(OutputClamping.predictiveCoding(outputPrecision: nudge, dynamics: dynamics), reference: reference)
        case .pcNudge:
            result = try check.compare(PCNudge(lambda: nudge, cost: check.cost, dynamics: dynamics), reference: reference)
        }
        if json {
            try writeJSON(GradcheckReport(rule: rule.rawValue, energy: energy.rawValue, reference: reference.rawValue, nudge: nudge,
                                          noise: noise, samples: samples, layers: sizes, batchSize: batchSize, seed: seed,
                                          comparison: result), to: "-")
        } else {
            let name = rule == .stdp ? "stdp (\(form.rawValue), σ = \(noise), \(samples) samples)" : rule.rawValue
            print("\(name) on the \(energy.rawValue) energy, nudge \(nudge), vs \(reference.rawValue): "
                  + "cosine \(result.cosine), relative error \(result.relativeError)")
            for part in result.parts {
                print("  \(part.name): cosine \(part.cosine), relative error \(part.relativeError)")
            }
        }
    }
}

struct GradcheckReport: Encodable {
    var rule: String
    var energy: String
    var reference: String
    var nudge: Double
    var noise: Double
    var samples: Int
    var layers: [Int]
    var batchSize: Int
    var seed: UInt64
    var comparison: GradientComparison

    enum CodingKeys: String, CodingKey {
        case rule, energy, reference, nudge, noise, samples, layers, batchSize = "batch_size", seed, cosine
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
        try container.encode(energy, forKey: .energy)
        try container.encode(reference, forKey: .reference)
        try container.encode(nudge, forKey: .nudge)
        try container.encode(noise, forKey: .noise)
        try container.encode(samples, forKey: .samples)
        try container.encode(layers, forKey: .layers)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(seed, forKey: .seed)
        try container.encode(comparison.cosine, forKey: .cosine)
        try container.encode(comparison.relativeError, forKey: .relativeError)
        try container.encode(comparison.parts.map(Part.init), forKey: .parts)
    }
}

extension STDPForm: ExpressibleByArgument {}
extension CostName: ExpressibleByArgument {}
