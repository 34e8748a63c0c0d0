import ArgumentParser
import Datasets
import EnergyBasedLearning
import Foundation
import LinearAlgebra

struct DataOptions: ParsableArguments {
    @Option(help: "Data set: mnist or fashion-mnist.")
    var dataset: DatasetName = .mnist

    @Option(help: ArgumentHelp("Folder holding the data sets (default: $EQPROP_DATA, else ~/.cache/eqprop/data).", valueName: "dir"))
    var dataDir: String?

    @Flag(help: "Never download missing files.")
    var offline = false

    @Option(help: ArgumentHelp("Use only the first N training examples (for quick runs).", valueName: "N"))
    var trainLimit: Int?

    func validate() throws {
        if let trainLimit, trainLimit <= 0 {
            throw ValidationError("--train-limit: expected a positive number of examples, got \(trainLimit)")
        }
    }

    /// The train and test splits as Float matrices with pixels scaled to [0, 1].
    func load() throws -> (train: ClassificationData<Float>, test: ClassificationData<Float>) {
        let directory = DataDirectory.resolve(flag: dataDir)
        let splits = try directory.load(dataset, download: !offline)
        let train = trainLimit.map { splits.train.prefix($0) } ?? splits.train
        return (ClassificationData(train), ClassificationData(splits.test))
    }
}

extension DatasetName: ExpressibleByArgument {}

extension ClassificationData<Float> {
    /// Pixels scaled to `[0, 1]`, one row per image.
    init(_ images: LabeledImages) {
        let inputs = Matrix<Float>(rows: images.count, columns: images.pixelsPerImage,
                                   elements: images.pixels.map { Float($0) / 255 })
        self.init(inputs: inputs, labels: images.labels.map(Int.init), classCount: images.classCount)
    }
}
