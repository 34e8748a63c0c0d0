import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Datasets
import Testing
import TrainingRuns

/// The run loop of the library on a network composed in code: trained, checkpointed, resumed and
/// saved like one built from a run file; and the DocC tutorial's code, run as it is written.
@Suite("A run composed in code")
struct ComposedRunTests {
    /// `count` random 784-pixel images of 10 classes whose class sets a bright band.
    func images(count: Int, seed: UInt64) -> ClassificationData<Float> {
        var generator = SeededGenerator(seed: seed)
        let labels = (0..<count).map { _ in Int.random(in: 0..<10, using: &generator) }
        var inputs = Matrix<Float>(rows: count, columns: 784)
        for (row, label) in labels.enumerated() {
            for j in 0..<784 { inputs[row, j] = (j / 78 == label ? 0.8 : 0) + Float.random(in: 0...0.2, using: &generator) }
        }
        return ClassificationData(inputs: inputs, labels: labels, classCount: 10)
    }

    // BEGIN TUTORIAL (TrainingEPOnMNIST.md shows this code; the test below runs it)
    func tutorial(train: ClassificationData<Float>, test: ClassificationData<Float>, folder: URL) throws -> TrainingRun {
        // net1 of Scellier & Bengio (2017), composed by hand: energy, free phase, rule.
        var generator = SeededGenerator(seed: 1)
        let energy = LayeredEnergy<Float>.hopfield(layerSizes: [784, 500, 10], using: &generator)
        let freePhase = ProjectedGradientDescent<Float>(stepSize: 0.5, steps: 20)
        let rule = EquilibriumPropagation<Float>(beta: 1, nudging: .random,
                                                 dynamics: ProjectedGradientDescent(stepSize: 0.5, steps: 4))
        let trainer = Trainer(energy: energy, freeDynamics: freePhase, rule: rule, learningRates: [0.2, 0.1],
                              plannedEpochs: 25, batchSize: 20, generator: generator)

        // The run around it: each epoch tested, recorded and checkpointed in the folder.
        var run = TrainingRun(trainer: trainer, name: "net1 by hand", training: train, test: test,
                              folder: try RunFolder(path: folder.path))
        if try !run.folder!.checkpointFiles().isEmpty { try run.resume() }  // continue where it stopped
        try run.train { event in
            if case let .epoch(record, _) = event { print("epoch \(record.epoch): test error \(record.testError)") }
        }
        try ModelArchive.save(run.trainer.energy, to: folder.appendingPathComponent("model"))
        return run
    }
    // END TUTORIAL

    @Test("The tutorial's code trains, records every epoch and saves the model")
    func tutorialRuns() throws {
        let folder = try temporaryFolder()
        let run = try tutorial(train: images(count: 200, seed: 1), test: images(count: 100, seed: 2), folder: folder)
        #expect(run.history.count == 25 && run.history.last!.testError < 0.5, "it learns (chance is 90%): \(run.history.last!)")
        #expect(try RunFolder.history(in: folder.path) == run.history)
        #expect(try RunFolder(path: folder.path).checkpointFiles().map(\.lastPathComponent) == ["epoch-0023.npz", "epoch-0024.npz", "epoch-0025.npz"])
        var generator = SeededGenerator(seed: 9)
        var energy = LayeredEnergy<Float>.hopfield(layerSizes: [784, 500, 10], using: &generator)
        try ModelArchive.load(into: &energy, from: folder.appendingPathComponent("model"))
        #expect(energy.parameters == run.trainer.energy.parameters)
        #expect(throws: ModelArchive.Failure.self, "a model composed in code names no run to rebuild it from") {
            _ = try ModelArchive.load(from: folder.appendingPathComponent("model"), as: Float.self)
        }
    }

    @Test("The tutorial's code is the code of the DocC article")
    func tutorialIsTheArticle() throws {
        let here = URL(fileURLWithPath: #filePath)
        let source = try String(contentsOf: here, encoding: .utf8)
        let start = try #require(source.range(of: "    // BEGIN TUTORIAL")), end = try #require(source.range(of: "    // END TUTORIAL"))
        let lines = source[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        // The function's body, one level of indentation less than in this file.
        let body = lines.dropFirst(2).dropLast(3).map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }.joined(separator: "\n")
        let article = try String(contentsOf: here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/EnergyBasedLearning/EnergyBasedLearning.docc/TrainingEPOnMNIST.md"), encoding: .utf8)
        #expect(article.contains(body), "the article's code block differs from the code this test runs:\n\(body)")
    }

    @Test("A run composed in code, its images augmented, killed after an epoch and resumed from its checkpoint, ends as the run never interrupted")
    func resumesExactly() throws {
        let train = images(count: 120, seed: 3), test = images(count: 60, seed: 4)
        func trainer() -> Trainer<Float> {
            var generator = SeededGenerator(seed: 7)
            let energy = LayeredEnergy<Float>.predictiveCoding(layerSizes: [784, 16, 10], hidden: .tanh, output: .identity, using: &generator)
            let rule = PCNudge<Float>(lambda: 0.1, dynamics: ProjectedGradientDescent(stepSize: 0.1, steps: 5, stabilizesSteps: true))
            var trainer = Trainer(energy: energy, freeDynamics: FeedForwardPass(), rule: rule, optimizer: Adam(), learningRates: [0.01, 0.01],
                                  schedule: .cosine, plannedEpochs: 4, batchSize: 16, generator: generator)
            // Its draws come from the checkpointed generator, so the resumed run shifts and mirrors as the whole one did.
            trainer.augmentation = ImageAugmentation(shift: 2, horizontalFlip: true, channels: 1, height: 28, width: 28)
            return trainer
        }
        var whole = TrainingRun(trainer: trainer(), name: "whole", training: train, test: test, folder: try RunFolder(path: try temporaryFolder().path))
        try whole.train()
        let folder = try RunFolder(path: try temporaryFolder().path)
        var first = TrainingRun(trainer: trainer(), name: "cut", training: train, test: test, folder: folder)
        try first.trainEpoch()
        try first.trainEpoch()
        var second = TrainingRun(trainer: trainer(), name: "cut", training: train, test: test, folder: folder)
        #expect(try second.resume().isEmpty && second.trainer.epochsTrained == 2)
        try second.train()
        func withoutSeconds(_ history: [EpochRecord]) -> [EpochRecord] { history.map { var r = $0; r.seconds = 0; return r } }
        #expect(withoutSeconds(second.history) == withoutSeconds(whole.history))
        #expect(second.trainer.energy.parameters == whole.trainer.energy.parameters)
        #expect(second.trainer.optimizer.memory == whole.trainer.optimizer.memory)
        // A checkpoint of another network is refused, naming the array.
        var generator = SeededGenerator(seed: 1)
        var other = TrainingRun(trainer: Trainer(energy: .hopfield(layerSizes: [784, 8, 10], using: &generator),
                                                 freeDynamics: ProjectedGradientDescent(stepSize: 0.5, steps: 2), rule: Backpropagation(),
                                                 learningRates: [0.1, 0.1], batchSize: 4, generator: SeededGenerator(seed: 1)),
                                name: "other", training: train, test: test, folder: folder)
        #expect(throws: RunFolderError.self) { try other.resume() }
    }
}

@Suite("Choosing on a validation set")
struct ValidationTests {
    func record(_ epoch: Int, validation: Double?, test: Double) -> EpochRecord {
        var r = EpochRecord(epoch: epoch, trainError: 0, testError: test, trainCost: 0, testCost: 0, seconds: 1, learningRateFactor: 1)
        r.validationError = validation
        return r
    }

    @Test("The epoch is chosen on the validation error (the earliest of equals), and its test error reported beside the last epoch's")
    func selection() {
        let history = [record(1, validation: 0.05, test: 0.04), record(2, validation: 0.03, test: 0.035), record(3, validation: 0.03, test: 0.02),
                       record(4, validation: 0.04, test: 0.01)]
        let metrics = TrainingMetrics(name: "t", dataset: "d", run: nil, history: history, trainingExamples: 10, blasKernel: "")
        #expect(metrics.selectedEpoch == 2 && metrics.selectedValidationError == 0.03 && metrics.selectedTestError == 0.035)
        #expect(metrics.testError == 0.01, "the last epoch's, reported as such; the lowest test error (epoch 4) is never the choice")
        let none = TrainingMetrics(name: "t", dataset: "d", run: nil, history: history.map { var r = $0; r.validationError = nil; return r },
                                   trainingExamples: 10, blasKernel: "")
        #expect(none.selectedEpoch == nil && none.selectedTestError == nil)
    }

    @Test("A run measures its validation set every epoch and records it")
    func runRecordsValidation() throws {
        let (runFile, data) = (RunFile.presets["family-mlp"]!, ComposedRunTests().images(count: 90, seed: 5))
        var run = runFile
        run.specification.learning.architecture = ArchitectureSpecification(layerSizes: [784, 8, 10])
        run.specification.learning.training.learningRates = [0.01, 0.01]
        run.specification.learning.training.epochs = 3
        let splits = DataSplits(training: data, validation: ComposedRunTests().images(count: 40, seed: 6), test: ComposedRunTests().images(count: 30, seed: 7))
        var training = try TrainingRun(run, name: "validated", data: splits)
        try training.train()
        #expect(training.history.allSatisfy { $0.validationError != nil && $0.validationCost != nil })
        let metrics = training.metrics
        let best = training.history.min { $0.validationError! < $1.validationError! }!
        #expect(metrics.selectedEpoch == best.epoch && metrics.selectedTestError == best.testError)
    }

    @Test("The validation set is the last examples of the training file, held out of training", .enabled(if: hasRealData, "needs $EQPROP_DATA"))
    func realSplit() throws {
        let directory = DataDirectory(url: realDataDirectory!)
        let splits = try DataSpecification(dataset: .mnist, validation: 10_000).load(from: directory, download: false, trainLimit: 100)
        let raw = try directory.load(.mnist, download: false).train
        #expect(splits.training.count == 100 && splits.validation?.count == 10_000 && splits.test.count == 10_000)
        #expect(splits.validation?.labels == raw.labels.suffix(10_000).map(Int.init) && splits.training.labels == raw.labels.prefix(100).map(Int.init))
        #expect(throws: SpecificationError.self) { _ = try DataSpecification(validation: 60_000).load(from: directory, download: false) }
    }
}
