import EnergyBasedLearning
import Foundation
import LinearAlgebra

/// The real data folder for tests: `$EQPROP_DATA` (scripts/test sets it to ../shared/data).
let realDataDirectory: URL? = ProcessInfo.processInfo.environment["EQPROP_DATA"].map { URL(fileURLWithPath: $0) }
let hasRealData = realDataDirectory.map { FileManager.default.fileExists(atPath: $0.appendingPathComponent("mnist").path) } ?? false

/// A fresh temporary folder.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("eqprop-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A small seeded Hopfield problem in Double: energy, an input batch and one-hot targets.
struct SmallProblem {
    var energy: LayeredEnergy<Double>
    var input: Matrix<Double>
    var target: Matrix<Double>

    init(layerSizes: [Int] = [6, 5, 4, 3], batchSize: Int = 3, seed: UInt64 = 7, weightScale: Double = 1) {
        let check = GradientCheck(layerSizes: layerSizes, batchSize: batchSize, seed: seed)
        energy = check.energy
        if weightScale != 1 {
            energy.parameters = energy.parameters.map { $0.map { var m = $0; m.scale(by: weightScale); return m } }
        }
        input = check.input
        target = check.target
    }

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
