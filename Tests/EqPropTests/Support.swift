import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing

/// The real data folder for tests: `$EQPROP_DATA` (scripts/test sets it to ../shared/data).
let realDataDirectory: URL? = ProcessInfo.processInfo.environment["EQPROP_DATA"].map { URL(fileURLWithPath: $0) }
let hasRealData = realDataDirectory.map { FileManager.default.fileExists(atPath: $0.appendingPathComponent("mnist").path) } ?? false

/// A fresh temporary folder.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("eqprop-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A small seeded problem in Double: energy, an input batch and one-hot targets.
struct SmallProblem: Sendable, CustomTestStringConvertible {
    var name: String
    var energy: LayeredEnergy<Double>
    var input: Matrix<Double>
    var target: Matrix<Double>

    /// The Hopfield energy.
    init(layerSizes: [Int] = [6, 5, 4, 3], batchSize: Int = 3, seed: UInt64 = 7, weightScale: Double = 1) {
        self.init(name: "Hopfield", check: GradientCheck(layerSizes: layerSizes, batchSize: batchSize, seed: seed))
        if weightScale != 1 {
            energy.parameters = energy.parameters.map { $0.map { var m = $0; m.scale(by: weightScale); return m } }
        }
    }

    init(name: String, check: GradientCheck) {
        self.name = name
        energy = check.energy
        input = check.input
        target = check.target
    }

    /// The predictive-coding energy with `hidden` activations, an `output` activation and
    /// precisions (1, 2, 0.5).
    static func predictiveCoding(hidden: Activation, output: Activation) -> SmallProblem {
        let check = try! GradientCheck.predictiveCoding(layerSizes: [6, 5, 4, 3], hidden: hidden, output: output,
                                                        precisions: [1, 2, 0.5], batchSize: 3, seed: 7)
        return SmallProblem(name: "predictive coding (\(hidden.rawValue), \(output.rawValue) output)", check: check)
    }

    /// Every energy the derivative tests run on.
    static let energies: [SmallProblem] = [
        SmallProblem(),
        .predictiveCoding(hidden: .tanh, output: .identity),
        .predictiveCoding(hidden: .sigmoid, output: .sigmoid),
        .predictiveCoding(hidden: .relu, output: .hardSigmoid),
        .predictiveCoding(hidden: .gelu, output: .tanh),
        SmallProblem(name: "weak-feedback Hopfield (γ = 0.3)",
                     check: .weakFeedback(layerSizes: [6, 5, 4, 3], feedbackGain: 0.3, batchSize: 3, seed: 7)),
        SmallProblem(name: "convolutional Hopfield (kernels 3 stride 2 padding 1, then 2 stride 1)",
                     check: GradientCheck(architecture: .convolutional, batchSize: 3, seed: 7)),
        SmallProblem.pooled,
        SmallProblem(name: "convolutional predictive coding (tanh, identity output)",
                     check: try! GradientCheck.predictiveCoding(architecture: .convolutional, hidden: .tanh, output: .identity,
                                                                precisions: [1, 2, 0.5], batchSize: 3, seed: 7)),
    ]

    /// Max pooling makes the energy piecewise smooth: a finite difference is its derivative only if
    /// its step moves no window's largest entry. Seed 10 puts the two largest entries of every window
    /// at least 5·10⁻³ apart at ``interiorState(seed:)`` (checked by a test), far beyond what a step
    /// of 10⁻⁴ in one weight or state can change (seed 7's smallest gap is 5·10⁻⁶).
    static let pooled = SmallProblem(name: "convolutional Hopfield with 2×2 max pooling in both convolutions",
                                     check: GradientCheck(architecture: .pooled, batchSize: 3, seed: 10))

    var testDescription: String { name }

    /// A state with every free unit strictly inside (0, 1), for derivative checks.
    func interiorState(seed: UInt64 = 3) -> NetworkState<Double> {
        var generator = SeededGenerator(seed: seed)
        var state = NetworkState(input: input, layerSizes: energy.layerSizes)
        for k in 1..<state.layers.count {
            state.layers[k] = .uniform(rows: input.rows, columns: energy.layerSizes[k], in: 0.1...0.9, using: &generator)
        }
        return state
    }
}

func maxAbsDifference(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double {
    zip(a.elements, b.elements).map { abs($0 - $1) }.max() ?? 0
}

/// The central difference `(f(θ + h·e) − f(θ − h·e)) / 2h` along one parameter element `e`:
/// element `index` of parameter `parameter` of term `term`.
func centralDifference(
    of f: (LayeredEnergy<Double>) throws -> Double, energy: LayeredEnergy<Double>,
    term: Int, parameter: Int, index: Int, step h: Double
) rethrows -> Double {
    var plus = energy, minus = energy
    var up = energy.terms[term].parameters, down = up
    up[parameter].elements[index] += h
    down[parameter].elements[index] -= h
    plus.terms[term].parameters = up
    minus.terms[term].parameters = down
    return (try f(plus) - f(minus)) / (2 * h)
}

/// The slope of log(error) against log(nudge): the order `p` of an error that shrinks like `nudgeᵖ`.
func fittedOrder(nudges: [Double], error: (Double) throws -> Double) rethrows -> Double {
    let points = try nudges.map { (log($0), log(try error($0))) }
    let meanX = points.map(\.0).reduce(0, +) / Double(points.count)
    let meanY = points.map(\.1).reduce(0, +) / Double(points.count)
    let covariance = points.map { ($0.0 - meanX) * ($0.1 - meanY) }.reduce(0, +)
    let variance = points.map { ($0.0 - meanX) * ($0.0 - meanX) }.reduce(0, +)
    return covariance / variance
}

extension ArchitectureSpecification {
    /// A small convolutional Hopfield network: 2×5×5 → (kernel 3, stride 2, padding 1) → 3×3×3 →
    /// (kernel 2) → 2×2×2 → dense → 3 units.
    static let convolutional = ArchitectureSpecification(
        layers: [[2, 5, 5], [3, 3, 3], [2, 2, 2], [3]].map(LayerShape.init(dimensions:)),
        interactions: [.convolution(lower: 0, upper: 1, kernel: 3, stride: 2, padding: 1),
                       .convolution(lower: 1, upper: 2, kernel: 2, stride: 1, padding: 0),
                       .dense(lower: 2, upper: 3)])

    /// Convolutions with max pooling inside: 2×6×6 → (kernel 3, padding 1, 2×2 pooling) → 3×3×3 →
    /// (kernel 2, 2×2 pooling) → 2×1×1 → dense → 3 units.
    static let pooled = ArchitectureSpecification(
        layers: [[2, 6, 6], [3, 3, 3], [2, 1, 1], [3]].map(LayerShape.init(dimensions:)),
        interactions: [.convolution(lower: 0, upper: 1, kernel: 3, stride: 1, padding: 1, pooling: 2),
                       .convolution(lower: 1, upper: 2, kernel: 2, stride: 1, padding: 0, pooling: 2),
                       .dense(lower: 2, upper: 3)])
}
