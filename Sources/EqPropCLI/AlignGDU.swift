import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Plotting

extension Align {
    /// One comparison of `eqprop align --gdu`: at nudge `beta`, seed `seed` and nudged step `step`,
    /// EP's update of `quantity` (`weights` or `states`) against minus BPTT's gradient.
    struct GDURow: Encodable {
        var quantity: String
        var beta: Double
        var seed: UInt64
        var step: Int
        var cosine: Double
        var relativeError: Double
        var parts: [GradcheckReport.Part]
        enum CodingKeys: String, CodingKey { case quantity, beta, seed, step, cosine, relativeError = "relative_error", parts = "per_layer" }
    }

    struct GDUReport: Encodable {
        var layers: [Int]
        var freeSteps: Int
        var stepSize: Double
        var batchSize: Int
        /// The largest change of a unit's state in the free phase's last step, per seed.
        var freePhaseLastChange: [Double]
        /// Whether every seed's free phase settled (``Align/settled(lastChange:betas:stepSize:)``).
        var freePhaseSettled: Bool
        var rows: [GDURow]
        enum CodingKeys: String, CodingKey {
            case layers, freeSteps = "free_steps", stepSize = "step_size", batchSize = "batch_size"
            case freePhaseLastChange = "free_phase_last_change", freePhaseSettled = "free_phase_settled", rows
        }
    }

    func runGDU() throws {
        let network = try architecture(layers: layers, interactions: interactions)
        let layerSizes = network.layerSizes
        let betas: [Double] = try parseList(nudges ?? "0.001", flag: "nudges")
        let nudgedSteps = (try parseList(steps ?? "10", flag: "steps") as [Int]).max()!
        let stepSize = inferenceRate ?? 0.5
        let seedList = try parseSeeds(seeds, flag: "seeds")
        guard betas.allSatisfy({ $0 != 0 && $0.isFinite }) else {
            throw ValidationError("--nudges: expected finite non-zero β (EP divides by β), got \(nudges ?? "")")
        }
        guard stepSize > 0, stepSize.isFinite else { throw ValidationError("--inference-rate: expected a positive step size, got \(stepSize)") }
        guard freeSteps > 0 else { throw ValidationError("--free-steps: expected a positive number, got \(freeSteps)") }
        guard (1...freeSteps).contains(nudgedSteps) else {
            throw ValidationError("--steps: expected between 1 and --free-steps (\(freeSteps)) nudged steps, got \(nudgedSteps)")
        }
        let (input, target) = try batch(layerSizes: layerSizes)
        let dynamics = ProjectedGradientDescent<Double>(stepSize: stepSize, steps: freeSteps)
        var rows: [GDURow] = []
        var lastChanges: [Double] = []
        for seed in seedList {
            var generator = SeededGenerator(seed: seed)
            let energy = LayeredEnergy<Double>.hopfield(architecture: network, using: &generator)
            let start = NetworkState(input: input, layerSizes: layerSizes)
            let clamped = ClampedEnergy(energy, clamping: [0], at: start)
            let freePhase = try BackpropagationThroughTime(dynamics: dynamics)
                .gradients(energy: clamped, from: start, target: target, truncation: nudgedSteps)
            lastChanges.append(freePhase.lastChange)
            for beta in betas {
                let steps = try GradientDescentUpdates(dynamics: dynamics, beta: beta, nudgedSteps: nudgedSteps)
                    .compare(energy: clamped, freePhase: freePhase, target: target)
                for step in steps {
                    let weights = step.parameterComparison(names: energy.terms.map(\.name))
                    let states = step.stateComparison(freeLayers: clamped.freeLayers)
                    for (quantity, comparison) in [("weights", weights), ("states", states)] {
                        rows.append(GDURow(quantity: quantity, beta: beta, seed: seed, step: step.step, cosine: comparison.cosine,
                                           relativeError: comparison.relativeError,
                                           parts: comparison.parts.map(GradcheckReport.Part.init)))
                    }
                }
            }
        }
        let settled = Self.settled(lastChange: lastChanges.max()!, betas: betas, stepSize: stepSize)
        if let csv {
            var text = "quantity,beta,seed,step,layer,cosine,relative_error\n"
            for row in rows {
                text += "\(row.quantity),\(row.beta),\(row.seed),\(row.step),all,\(row.cosine),\(row.relativeError)\n"
                for part in row.parts { text += "\(row.quantity),\(row.beta),\(row.seed),\(row.step),\(part.name),\(part.cosine),\(part.relativeError)\n" }
            }
            try writeOutput(Data(text.utf8), to: csv, flag: "--csv")
        }
        if let svg { try writeOutput(Data(LinePlot.stacked(gduPlots(rows, beta: betas.map(abs).min()!, seeds: seedList.count)).utf8), to: svg, flag: "--svg") }
        if json {
            try printJSON(GDUReport(layers: layerSizes, freeSteps: freeSteps, stepSize: stepSize, batchSize: input.rows,
                                    freePhaseLastChange: lastChanges, freePhaseSettled: settled, rows: rows))
            return
        }
        if !settled {
            print("the free phase has not settled: its last step moved a unit by \(lastChanges.max()!), not small against the nudge's "
                  + "first step ε·|β| = \(stepSize * betas.map(abs).min()!); the GDU property assumes a fixed point (more --free-steps, or a smaller --inference-rate)")
        }
        print("GDU: EP's nudged-step updates against minus BPTT's gradients, Hopfield \(network.summary), "
              + "\(input.rows) images, free phase \(freeSteps) steps of ε \(stepSize) (last change \(lastChanges.map { String(format: "%.1e", $0) }.joined(separator: ", "))), "
              + "mean over seeds \(seeds)")
        for beta in betas {
            for step in 1...nudgedSteps {
                let group = rows.filter { $0.beta == beta && $0.step == step }
                func mean(_ quantity: String, _ value: (GDURow) -> Double) -> String {
                    let values = group.filter { $0.quantity == quantity }.map(value)
                    return String(format: "%.5f", values.reduce(0, +) / Double(values.count))
                }
                print("β \(beta), step \(step): weights cosine \(mean("weights", \.cosine)), relative distance \(mean("weights", \.relativeError)); "
                      + "states cosine \(mean("states", \.cosine)), relative distance \(mean("states", \.relativeError))")
            }
        }
    }

    /// Whether a free phase whose last step moved a unit by `lastChange` has settled for the GDU
    /// comparison: its drift is below 1% of the smallest nudge's first step `ε·|β|`, so that EP's
    /// differences measure the nudge and not the free phase still moving.
    static func settled(lastChange: Double, betas: [Double], stepSize: Double) -> Bool {
        lastChange < 0.01 * stepSize * betas.map(abs).min()!
    }

    /// The relative distance against the nudged step, per layer, for the weights and the states, at
    /// nudge `beta`, mean over seeds. (The cosines, all within 10⁻⁵ of 1 at small β, are in the
    /// table, the CSV and the JSON.)
    private func gduPlots(_ rows: [GDURow], beta: Double, seeds: Int) -> [LinePlot] {
        let selected = rows.filter { abs($0.beta) == beta }
        var plots: [LinePlot] = []
        for quantity in ["weights", "states"] {
            let group = selected.filter { $0.quantity == quantity }
            let steps = Array(Set(group.map(\.step))).sorted()
            let names = group.first?.parts.map(\.name) ?? []
            func series(_ value: @escaping (GDURow, Int?) -> Double) -> [LinePlot.Series] {
                func mean(_ step: Int, _ part: Int?) -> Double {
                    let values = group.filter { $0.step == step }.map { value($0, part) }
                    return values.reduce(0, +) / Double(values.count)
                }
                return [LinePlot.Series(name: "all", points: steps.map { (Double($0), mean($0, nil)) })]
                    + names.indices.map { i in LinePlot.Series(name: names[i], points: steps.map { (Double($0), mean($0, i)) }) }
            }
            let title = "GDU, \(quantity): EP's step updates vs −BPTT, β = \(beta), mean of \(seeds) seeds"
            plots.append(LinePlot(title: title, xLabel: "nudged step k (BPTT: k steps back)", yLabel: "relative distance ‖ΔEP + ∇BPTT‖/‖∇BPTT‖",
                                  series: series { row, i in i.map { row.parts[$0].relativeError } ?? row.relativeError }, showsZeroLines: false))
        }
        return plots
    }
}
