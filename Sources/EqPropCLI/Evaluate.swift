import ArgumentParser
import Datasets
import EnergyBasedLearning
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure a saved model's error on the train and test sets.")

    @Option(help: ArgumentHelp("Folder written by `eqprop train --save-model`.", valueName: "dir"))
    var model: String

    @OptionGroup var data: DataOptions
    @OptionGroup var compute: ComputeOptions

    @Option(parsing: .unconditional, help: "Steps of the free phase (default: the model's training setting); more steps check convergence.")
    var freeSteps: Int?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        compute.configureBLAS()
        let (energy, savedConfiguration, dataset) = try ModelArchive.load(from: URL(fileURLWithPath: model), as: Float.self)
        var configuration = savedConfiguration
        if let freeSteps { configuration.freeSteps = freeSteps }
        // The data set the model was trained on (models saved before it was recorded: MNIST), unless
        // --dataset says otherwise.
        let trainedOn = try dataset.map { name in
            guard let known = DatasetName(rawValue: name) else {
                throw ValidationError("--model: \(model)/model.json names the data set '\(name)'; expected one of "
                                      + DatasetName.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return known
        }
        let (train, test) = try data.load(trainedOn ?? .mnist, pixels: configuration.pixels)
        var trainer = try Trainer<Float>(configuration: configuration, trainingCount: 0, parallelBlocks: compute.parallelBlocks(for: configuration))
        trainer.energy = energy
        let trainMeasurement = try trainer.evaluate(on: train)
        let testMeasurement = try trainer.evaluate(on: test)
        if json {
            try writeJSON(["train_error": trainMeasurement.error, "test_error": testMeasurement.error,
                           "train_cost": trainMeasurement.cost, "test_cost": testMeasurement.cost], to: "-")
        } else {
            print("train error \(percent(trainMeasurement.error)) (cost \(String(format: "%.4f", trainMeasurement.cost))), "
                  + "test error \(percent(testMeasurement.error)) (cost \(String(format: "%.4f", testMeasurement.cost)))")
        }
    }
}
