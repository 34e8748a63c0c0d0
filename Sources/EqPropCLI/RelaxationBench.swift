import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import TrainingRuns

/// `eqprop bench --relaxation`: the free phase's steps to a tolerance, per minimizer, on the same
/// examples and weights.
struct RelaxationBenchOptions: ParsableArguments {
    @Flag(help: "Measure the free phase's steps to a tolerance per minimizer instead of training.") var relaxation = false
    @Option(parsing: .unconditional, help: "--relaxation: test images to relax (default: 1000).") var examples: Int?
    @Option(parsing: .unconditional, help: "--relaxation: the most steps (sweeps) one relaxation may take (default: 20000).") var cap: Int?
    @Option(help: ArgumentHelp("--relaxation: the exact block minimizer's over-relaxation factors ω (default: 1,1.5).", valueName: "ω list"))
    var overrelaxations: String?
    @Option(help: ArgumentHelp("--relaxation: a trained model's folder (`train --save-model`, or a run folder's model/), whose own run "
                               + "settings are used; default: the run's initial weights.", valueName: "dir"))
    var model: String?

    /// The run settings a free phase measured on its own does not read: the bench's minimizers
    /// replace the run's dynamics, and nothing is trained.
    static let unusedSettings: Set<String> = ["minimizer", "nudged-minimizer", "overrelaxation", "free-steps", "nudged-steps", "noise", "persistent-particles",
                                              "epochs", "learning-rates", "optimizer", "schedule", "weight-decay", "cost", "validation",
                                              "random-shift", "horizontal-flip"]

    /// Refuses, by name, what this measurement would otherwise drop: its own flags without
    /// `--relaxation`; with it, the training bench's flags and the run settings it does not read; with
    /// `--model`, every run setting (the model's own run is measured).
    func refuseUnused(settings: RunOptions, data: DataOptions, trainingBenchFlags: [String]) throws {
        guard relaxation else {
            let given = [("--examples", examples != nil), ("--cap", cap != nil), ("--overrelaxations", overrelaxations != nil), ("--model", model != nil)]
            if let flag = given.first(where: \.1)?.0 { throw ValidationError("\(flag): it belongs to --relaxation, which was not given") }
            return
        }
        if let flag = trainingBenchFlags.first { throw ValidationError("\(flag): bench --relaxation measures the free phase, it trains nothing") }
        if data.trainLimit != nil { throw ValidationError("--train-limit: bench --relaxation relaxes test images (--examples), not training ones") }
        if model != nil {
            if let first = settings.describingRun(data: data).first {
                throw ValidationError("--model: the model's own run settings are measured; \(first) cannot be given with --model")
            }
        }
        if let unused = settings.given.first(where: { Self.unusedSettings.contains($0.flag) })?.flag {
            let instead = switch unused {
            case "overrelaxation", "minimizer": "; --overrelaxations lists the exact block minimizer's factors to measure"
            case "nudged-minimizer": "; it measures the free phase only"
            case "free-steps", "nudged-steps": "; --cap bounds the steps"
            default: ""
            }
            throw ValidationError("--\(unused): bench --relaxation does not use the run's \(unused)\(instead)")
        }
    }

    func run(settings: RunOptions, data: DataOptions, json: Bool) throws {
        let examples = examples ?? 1000, cap = cap ?? 20_000
        guard examples > 0 else { throw ValidationError("--examples: expected a positive number, got \(examples)") }
        guard cap > 0 else { throw ValidationError("--cap: expected a positive number of steps, got \(cap)") }
        let omegas: [Double] = try parseList(overrelaxations ?? "1,1.5", flag: "overrelaxations")
        if let bad = omegas.first(where: { !($0 > 0 && $0 < 2) }) { throw ValidationError("--overrelaxations: expected factors ω in (0, 2), got \(bad)") }
        var (run, name) = try settings.resolved(dataset: data.dataset)
        var energy: LayeredEnergy<Float>
        if let model {
            (energy, run.specification) = try ModelArchive.load(from: URL(fileURLWithPath: model), as: Float.self)
        } else {
            var generator = SeededGenerator(seed: run.specification.learning.seed)
            energy = run.specification.learning.makeEnergy(using: &generator)
        }
        let learning = run.specification.learning
        guard learning.energy == .hopfield else {
            throw ValidationError("--relaxation: the \(learning.energy.kind.rawValue) energy's free phase is the feed-forward pass, exact: there is nothing to relax")
        }
        let test = try data.load(run.specification.data).test
        let input = test.inputs.rows(0..<min(examples, test.count))
        let tolerance = Float(learning.dynamics.tolerance ?? 1e-4)
        let epsilon = learning.dynamics.stepSize ?? 0.5
        var minimizers: [(name: String, dynamics: any Dynamics<Float>)] = [
            ("gradient descent, ε = \(epsilon)", ProjectedGradientDescent(stepSize: Float(epsilon), steps: cap, tolerance: tolerance,
                                                                          layerStepScales: learning.layerStepScales())),
        ]
        for omega in omegas {
            minimizers.append(("exact-block" + (omega == 1 ? "" : ", ω = \(omega)"), ExactBlockDescent(steps: cap, tolerance: tolerance, overrelaxation: Float(omega))))
        }
        let surveys = try minimizers.map { try RelaxationSurvey(energy: energy, input: input, dynamics: $0.dynamics) }
        let rows = zip(minimizers, surveys).map { minimizer, survey in
            RelaxationBenchRow(minimizer: minimizer.name, meanSteps: Double(survey.steps.reduce(0, +)) / Double(survey.steps.count),
                               medianSteps: survey.stepQuantile(0.5), percentile90Steps: survey.stepQuantile(0.9), maximumSteps: survey.steps.max()!,
                               meanBatchSteps: survey.meanBatchSteps(batchSize: learning.training.batchSize),
                               unsettledFraction: Double(survey.unsettledExamples) / Double(survey.steps.count), seconds: survey.seconds,
                               meanEnergy: survey.energies.reduce(0, +) / Double(survey.energies.count),
                               fractionDifferingFromGradientDescent: survey.fractionDiffering(from: surveys[0], by: 0.1))
        }
        let weights = model.map { "trained weights (\($0))" } ?? "initial weights (seed \(learning.seed))"
        if json {
            try printJSON(RelaxationBenchReport(run: name, layers: learning.architecture.layerSizes, weights: weights, examples: input.rows,
                                                tolerance: Double(tolerance), cap: cap, batchSize: learning.training.batchSize, minimizers: rows))
            return
        }
        print("""
            \(name) (\(learning.architecture.summary)), \(weights): the free phase of \(input.rows) test \
            images, from zero, to a tolerance of \(tolerance) within \(cap) steps
            """)
        print("  minimizer                        mean  median   90%     max  batch of \(learning.training.batchSize)  not settled  seconds  mean energy  ≠ GD's (>0.1)")
        for row in rows {
            print("  " + row.minimizer.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " %6.1f %6d %6d %7d %11.1f %11.2f%% %8.2f %12.4f %12.1f%%", row.meanSteps, row.medianSteps,
                         row.percentile90Steps, row.maximumSteps, row.meanBatchSteps, 100 * row.unsettledFraction, row.seconds, row.meanEnergy,
                         100 * row.fractionDifferingFromGradientDescent))
        }
    }
}

struct RelaxationBenchRow: Encodable {
    var minimizer: String
    var meanSteps: Double
    var medianSteps: Int
    var percentile90Steps: Int
    var maximumSteps: Int
    var meanBatchSteps: Double
    var unsettledFraction: Double
    var seconds: Double
    var meanEnergy: Double
    /// Examples whose fixed point differs from gradient descent's by more than 0.1 in some unit: a
    /// different minimum, not the tolerance's inaccuracy (the units lie in [0, 1]).
    var fractionDifferingFromGradientDescent: Double

    enum CodingKeys: String, CodingKey {
        case minimizer, seconds
        case meanSteps = "mean_steps", medianSteps = "median_steps", percentile90Steps = "percentile_90_steps", maximumSteps = "maximum_steps"
        case meanBatchSteps = "mean_batch_steps", unsettledFraction = "unsettled_fraction", meanEnergy = "mean_energy"
        case fractionDifferingFromGradientDescent = "fraction_differing_from_gradient_descent"
    }
}

struct RelaxationBenchReport: Encodable {
    var run: String
    var layers: [Int]
    var weights: String
    var examples: Int
    var tolerance: Double
    var cap: Int
    var batchSize: Int
    var minimizers: [RelaxationBenchRow]

    enum CodingKeys: String, CodingKey {
        case run, layers, weights, examples, tolerance, cap, minimizers
        case batchSize = "batch_size"
    }
}
