import ArgumentParser
import Datasets
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import TrainingRuns

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure a saved model's error and cost on the training, validation and test sets, and the seconds it took.")

    @Option(help: ArgumentHelp("Folder written by `eqprop train --save-model` (or the model/ of a run folder).", valueName: "dir"))
    var model: String

    @OptionGroup var data: DataOptions
    @OptionGroup var compute: ComputeOptions

    @Option(parsing: .unconditional, help: "Steps of the free phase (default: the model's training setting); more steps check convergence.")
    var freeSteps: Int?

    @Option(help: ArgumentHelp("Examples relaxed at once (default: 1000 for a dense network, the training batch for one with a convolution). Each example stops once it has settled, so the size changes the speed, not the result.", valueName: "n"))
    var batchSize: Int?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if let freeSteps, freeSteps < 1 { throw ValidationError("--free-steps: expected a positive number, got \(freeSteps)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size: expected a positive number, got \(batchSize)") }
    }

    func run() throws {
        compute.configureBLAS()
        let (energy, trainedOn) = try ModelArchive.load(from: URL(fileURLWithPath: model), as: Float.self)
        var run = trainedOn
        if let freeSteps {
            guard run.learning.dynamics.freeSteps != nil else {
                throw ValidationError("--free-steps: the model's free phase is the feed-forward pass (\(run.learning.energy.kind.rawValue) energy), exact")
            }
            run.learning.dynamics.freeSteps = freeSteps
        }
        // The data set the model was trained on, unless --dataset says otherwise.
        let splits = try data.load(run.data)
        var trainer: Trainer<Float> = try run.learning.makeTrainer(trainingCount: 0, parallelBlocks: compute.parallelBlocks(for: run.learning))
        trainer.energy = energy
        if let batchSize { trainer.evaluationBatchSize = batchSize }
        let watch = Stopwatch()
        var measured = [("train", try trainer.evaluate(on: splits.training))]
        if let validation = splits.validation { measured.append(("validation", try trainer.evaluate(on: validation))) }
        measured.append(("test", try trainer.evaluate(on: splits.test)))
        let seconds = watch.seconds
        if json {
            let results = measured.flatMap { name, m in [("\(name)_error", m.error), ("\(name)_cost", m.cost)] }
            try printJSON(Dictionary(uniqueKeysWithValues: results + [("seconds", seconds), ("batch_size", Double(trainer.evaluationBatchSize))]))
        } else {
            print(measured.map { name, m in "\(name) error \(percent(m.error)) (cost \(String(format: "%.4f", m.cost)))" }.joined(separator: ", ")
                  + String(format: "; %.2f s in batches of %d", seconds, trainer.evaluationBatchSize))
        }
    }
}
