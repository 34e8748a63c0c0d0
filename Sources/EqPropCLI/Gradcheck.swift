import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra

struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the EP gradient estimate with the exact gradient (implicit differentiation), in Double.",
        discussion: "On a small seeded network and batch: relax to the free fixed point, compute dL/dθ exactly, then EP's estimate at the given β.")

    @Option(help: "Nudging strength β.") var beta: Double = 0.01
    @Flag(help: "Symmetric ±β nudging.") var symmetric = false
    @Option(help: ArgumentHelp("Layer sizes, input first.", valueName: "sizes")) var layers: String = "12,10,8,4"
    @Option var batchSize: Int = 5
    @Option var seed: UInt64 = 1
    @Option(help: "Step size ε of the dynamics.") var epsilon: Double = 0.5
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let sizes: [Int] = try parseList(layers, flag: "layers")
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--layers: expected at least two positive sizes, got \(layers)")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size: expected a positive number, got \(batchSize)") }
        guard beta != 0, beta.isFinite else { throw ValidationError("--beta: expected a finite non-zero β (EP divides by it), got \(beta)") }
        guard epsilon > 0, epsilon <= 1 else { throw ValidationError("--epsilon: expected a step size in (0, 1], got \(epsilon)") }
        let result = try GradientCheck(layerSizes: sizes, batchSize: batchSize, seed: seed, stepSize: epsilon)
            .run(beta: beta, nudging: symmetric ? .symmetric : .oneSided)
        if json {
            try writeJSON(GradcheckReport(beta: beta, symmetric: symmetric, layers: sizes, batchSize: batchSize, seed: seed, comparison: result), to: "-")
        } else {
            print("EP (\(symmetric ? "symmetric" : "one-sided"), β = \(beta)) vs implicit differentiation: cosine \(result.cosine), relative error \(result.relativeError)")
            for part in result.parts {
                print("  \(part.name): cosine \(part.cosine), relative error \(part.relativeError)")
            }
        }
    }
}

struct GradcheckReport: Encodable {
    var beta: Double
    var symmetric: Bool
    var layers: [Int]
    var batchSize: Int
    var seed: UInt64
    var comparison: GradientComparison

    enum CodingKeys: String, CodingKey { case beta, symmetric, layers, batchSize = "batch_size", seed, cosine, relativeError = "relative_error", parts = "per_layer" }
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
        try container.encode(beta, forKey: .beta)
        try container.encode(symmetric, forKey: .symmetric)
        try container.encode(layers, forKey: .layers)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(seed, forKey: .seed)
        try container.encode(comparison.cosine, forKey: .cosine)
        try container.encode(comparison.relativeError, forKey: .relativeError)
        try container.encode(comparison.parts.map { Part(name: $0.name, cosine: $0.cosine, relativeError: $0.relativeError) }, forKey: .parts)
    }
}
