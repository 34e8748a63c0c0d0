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
        let (train, test) = try data.load(run.data)
        var trainer: Trainer<Float> = try run.learning.makeTrainer(trainingCount: 0, parallelBlocks: compute.parallelBlocks(for: run.learning))
        trainer.energy = energy
        let trainMeasurement = try trainer.evaluate(on: train)
        let testMeasurement = try trainer.evaluate(on: test)
        if json {
            try printJSON(["train_error": trainMeasurement.error, "test_error": testMeasurement.error,
                           "train_cost": trainMeasurement.cost, "test_cost": testMeasurement.cost])
        } else {
            print("train error \(percent(trainMeasurement.error)) (cost \(String(format: "%.4f", trainMeasurement.cost))), "
                  + "test error \(percent(testMeasurement.error)) (cost \(String(format: "%.4f", testMeasurement.cost)))")
        }
    }
}
