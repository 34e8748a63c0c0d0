import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra

struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a rule's gradient estimate with the exact gradient (implicit differentiation), in Double.",
        discussion: """
            On a small seeded network and batch: relax to the free fixed point, compute dL/dθ exactly, then the rule's \
            estimate at the given β (averaged over --samples draws of its noise).
            """)

    enum Rule: String, ExpressibleByArgument, CaseIterable {
        case ep, stdp
    }

    @Option(help: "The rule: ep (Equilibrium Propagation) or stdp (the rate-based STDP rule).") var rule: Rule = .ep
    @Option(parsing: .unconditional, help: "Nudging strength β.") var beta: Double = 0.01
    @Flag(help: "EP: symmetric ±β nudging.") var symmetric = false
    @Option(help: "STDP: symmetric or postsynaptic.") var form: STDPForm = .symmetric
    @Option(parsing: .unconditional, help: "STDP: steps of the nudged phase.") var nudgedSteps: Int = 200
    @Option(parsing: .unconditional, help: "STDP: Langevin noise level σ.") var noise: Double = 0
    @Option(parsing: .unconditional, help: "Draws of the rule's noise to average.") var samples: Int = 1
    @Option(help: ArgumentHelp("Layer sizes, input first.", valueName: "sizes")) var layers: String = "12,10,8,4"
    @Option(parsing: .unconditional) var batchSize: Int = 5
    @Option(parsing: .unconditional) var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Step size ε of the dynamics.") var epsilon: Double = 0.5
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let sizes: [Int] = try parseList(layers, flag: "layers")
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--layers: expected at least two positive sizes, got \(layers)")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size: expected a positive number, got \(batchSize)") }
        guard beta != 0, beta.isFinite else { throw ValidationError("--beta: expected a finite non-zero β (EP divides by it), got \(beta)") }
        guard epsilon > 0, epsilon <= 1 else { throw ValidationError("--epsilon: expected a step size in (0, 1], got \(epsilon)") }
        guard noise >= 0, noise.isFinite else { throw ValidationError("--noise: expected a finite σ ≥ 0, got \(noise)") }
        guard samples >= 1 else { throw ValidationError("--samples: expected at least 1, got \(samples)") }
        guard nudgedSteps >= 1 else { throw ValidationError("--nudged-steps: expected at least 1, got \(nudgedSteps)") }
        let check = GradientCheck(layerSizes: sizes, batchSize: batchSize, seed: seed, stepSize: epsilon)
        let result: GradientComparison
        switch rule {
        case .ep:
            result = try check.run(beta: beta, nudging: symmetric ? .symmetric : .oneSided)
        case .stdp:
            result = try check.compare(RateSTDP(beta: beta, form: form, stepSize: epsilon, steps: nudgedSteps, noise: noise),
                                       samples: samples)
        }
        if json {
            try writeJSON(GradcheckReport(rule: rule.rawValue, beta: beta, symmetric: symmetric, noise: noise, samples: samples,
                                          layers: sizes, batchSize: batchSize, seed: seed, comparison: result), to: "-")
        } else {
            let name = rule == .ep ? "EP (\(symmetric ? "symmetric" : "one-sided"))" : "STDP (\(form.rawValue), σ = \(noise), \(samples) samples)"
            print("\(name), β = \(beta), vs implicit differentiation: cosine \(result.cosine), relative error \(result.relativeError)")
            for part in result.parts {
                print("  \(part.name): cosine \(part.cosine), relative error \(part.relativeError)")
            }
        }
    }
}

struct GradcheckReport: Encodable {
    var rule: String
    var beta: Double
    var symmetric: Bool
    var noise: Double
    var samples: Int
    var layers: [Int]
    var batchSize: Int
    var seed: UInt64
    var comparison: GradientComparison

    enum CodingKeys: String, CodingKey {
        case rule, beta, symmetric, noise, samples, layers, batchSize = "batch_size", seed, cosine
        case relativeError = "relative_error", parts = "per_layer"
    }
    struct Part: Encodable {
        var name: String
        var cosine: Double
        var relativeError: Double
        enum CodingKeys: String, CodingKey { case name, cosine, relativeError = "relative_error" }

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
        try container.encode(beta, forKey: .beta)
        try container.encode(symmetric, forKey: .symmetric)
        try container.encode(noise, forKey: .noise)
        try container.encode(samples, forKey: .samples)
        try container.encode(layers, forKey: .layers)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(seed, forKey: .seed)
        try container.encode(comparison.cosine, forKey: .cosine)
        try container.encode(comparison.relativeError, forKey: .relativeError)
        try container.encode(comparison.parts.map { Part(name: $0.name, cosine: $0.cosine, relativeError: $0.relativeError) }, forKey: .parts)
    }
}

extension STDPForm: ExpressibleByArgument {}
