import ArgumentParser
import Datasets
import EnergyBasedLearning
import Foundation
import TrainingRuns

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure a saved model's error on the train and test sets.")

    @Option(help: ArgumentHelp("Folder written by `eqprop train --save-model` (or the model/ of a run folder).", valueName: "dir"))
    var model: String

    @OptionGroup var data: DataOptions
    @OptionGroup var compute: ComputeOptions

    @Option(parsing: .unconditional, help: "Steps of the free phase (default: the model's training setting); more steps check convergence.")
    var freeSteps: Int?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if let freeSteps, freeSteps < 1 { throw ValidationError("--free-steps: expected a positive number, got \(freeSteps)") }
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
        var measured = [("train", try trainer.evaluate(on: splits.training))]
        if let validation = splits.validation { measured.append(("validation", try trainer.evaluate(on: validation))) }
        measured.append(("test", try trainer.evaluate(on: splits.test)))
        if json {
            try printJSON(Dictionary(uniqueKeysWithValues: measured.flatMap { name, m in [("\(name)_error", m.error), ("\(name)_cost", m.cost)] }))
        } else {
            print(measured.map { name, m in "\(name) error \(percent(m.error)) (cost \(String(format: "%.4f", m.cost)))" }.joined(separator: ", "))
        }
    }
}
