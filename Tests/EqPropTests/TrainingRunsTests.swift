import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing
import TrainingRuns

@Suite("Run files and checkpoints")
struct TrainingRunsTests {
    @Test("Every preset is a run file that reads back to itself")
    func presetsRoundTrip() throws {
        #expect(Set(RunFile.presets.keys) == ["scellier2017-net1", "scellier2017-net2", "scellier2017-net3", "scellier2017-net1-fast",
                                              "scellier2017-net2-fast", "scellier2017-net3-fast", "scellier2017-net2-fast-shift",
                                              "scellier2017-net3-fast-shift", "family-mlp", "family-mlp-fashion",
                                              "pcx-mlp", "pcx-mlp-fashion", "conv-mnist", "conv-mnist-32-64-shift", "conv-fashion-mnist",
                                              "conv-fashion-mnist-pc"])
        for (name, preset) in RunFile.presets {
            var withOutput = preset
            withOutput.output = "runs/\(name) with spaces/\"quoted\""
            #expect(try RunFile(yaml: withOutput.yaml, file: name) == withOutput)
        }
    }

    @Test("The fast presets are the paper's networks relaxed by the exact block minimizer to a tolerance, with what their comments say changed")
    func fastPresets() throws {
        for net in 1...3 {
            let paper = RunFile.presets["scellier2017-net\(net)"]!.specification
            let fast = RunFile.presets["scellier2017-net\(net)-fast"]!.specification
            let dynamics = fast.learning.dynamics
            #expect(dynamics.minimizer == .exactBlock && dynamics.stepSize == nil && dynamics.tolerance != nil)
            #expect(dynamics.freeSteps == paper.learning.dynamics.freeSteps, "the paper's free steps are the cap")
            var comparable = fast
            comparable.learning.dynamics = paper.learning.dynamics
            if net == 1 {
                // A negative β = −1 would cancel the output's curvature: positive nudging, the paper's rates.
                #expect(fast.learning.rule == .ep(beta: 1, nudging: .positive) && paper.learning.rule == .ep(beta: 1, nudging: .random))
                comparable.learning.rule = paper.learning.rule
            } else {
                // A quarter of the paper's rates, for phases relaxed to their fixed points.
                #expect(zip(fast.learning.training.learningRates, paper.learning.training.learningRates).allSatisfy { abs($0 - $1 / 4) < 1e-12 })
                comparable.learning.training.learningRates = paper.learning.training.learningRates
            }
            #expect(comparable == paper, "net\(net)-fast differs from the paper's preset only where its comment says")
        }
    }

    @Test("The shifted presets are the fast ones with their training images shifted by up to a pixel, the input read as the image it is")
    func shiftedPresets() throws {
        for net in 2...3 {
            let fast = RunFile.presets["scellier2017-net\(net)-fast"]!.specification
            let shifted = RunFile.presets["scellier2017-net\(net)-fast-shift"]!.specification
            let (layers, architecture) = (shifted.learning.architecture.layers, shifted.learning.architecture)
            #expect(layers.first == LayerShape(dimensions: [1, 28, 28]) && architecture.layerSizes == fast.learning.architecture.layerSizes)
            #expect(architecture.interactions == fast.learning.architecture.interactions
                    && architecture.initialGains == fast.learning.architecture.initialGains)
            #expect(shifted.learning.training.randomShift == 1 && shifted.learning.training.augmentation(inputShape: layers[0]) != nil)
            var comparable = shifted
            comparable.learning.architecture = fast.learning.architecture
            comparable.learning.training.randomShift = 0
            #expect(comparable == fast, "net\(net)-fast-shift differs from net\(net)-fast only in its input's shape and the shift")
        }
    }

    @Test("conv-mnist-32-64-shift is conv-mnist with twice the channels, shifted training images and half the rates")
    func widerShiftedConvolutionalPreset() throws {
        let base = RunFile.presets["conv-mnist"]!.specification
        let wider = RunFile.presets["conv-mnist-32-64-shift"]!.specification
        #expect(wider.learning.architecture.layers.map(\.description) == ["1×28×28", "32×14×14", "64×7×7", "10"])
        #expect(wider.learning.training.randomShift == 1 && wider.learning.training.augmentation(inputShape: wider.learning.architecture.layers[0]) != nil)
        #expect(zip(wider.learning.training.learningRates, base.learning.training.learningRates).allSatisfy { $0 == $1 / 2 }
                && wider.learning.training.learningRates.count == base.learning.training.learningRates.count)
        var comparable = wider
        comparable.learning.architecture.layers = base.learning.architecture.layers
        comparable.learning.training.randomShift = 0
        comparable.learning.training.learningRates = base.learning.training.learningRates
        #expect(comparable == base, "conv-mnist-32-64-shift differs from conv-mnist only in its channels, the shift and the rates")
    }

    @Test("A run relaxed to a tolerance measures the same in any evaluation batch, since each example stops on its own; dense networks are evaluated in batches of 1,000, convolutional ones of their training batch")
    func evaluationBatches() throws {
        var learning = RunFile.presets["scellier2017-net2-fast"]!.specification.learning
        learning.architecture = ArchitectureSpecification(layerSizes: [6, 8, 8, 3])
        let trainer: Trainer<Double> = try learning.makeTrainer(trainingCount: 0)
        var generator = SeededGenerator(seed: 11)
        let inputs = Matrix<Double>(rows: 30, columns: 6, elements: (0..<180).map { _ in Double.random(in: 0...1, using: &generator) })
        let data = ClassificationData(inputs: inputs, labels: (0..<30).map { $0 % 3 }, classCount: 3)
        let together = try trainer.evaluate(on: data, batchSize: 30)
        let alone = try trainer.evaluate(on: data, batchSize: 1)
        #expect(alone.freeExampleSteps > 2, "the examples relax for several sweeps")
        #expect(together.error == alone.error && together.freeExampleSteps == alone.freeExampleSteps)
        #expect(abs(together.cost - alone.cost) < 1e-12 && abs(together.energy - alone.energy) < 1e-12,
                "\(together.cost) \(alone.cost) \(together.energy) \(alone.energy)")
        #expect(trainer.evaluationBatchSize == 1000)
        let convolutional: Trainer<Float> = try RunFile.presets["conv-mnist"]!.specification.learning.makeTrainer(trainingCount: 0)
        #expect(convolutional.evaluationBatchSize == 32)
    }

    @Test("Optional keys take their defaults")
    func defaults() throws {
        let text = """
            seed: 3
            architecture: {layers: [4, 3, 2]}
            dynamics: {epsilon: 0.5, free-steps: 10, nudged-steps: 2}
            rule: {name: ep, beta: 0.5}
            training: {epochs: 1, batch-size: 2, learning-rates: [0.1, 0.1]}
            """
        let run = try RunFile(yaml: text, file: "short.yaml")
        let learning = run.specification.learning
        #expect(run.specification.data == DataSpecification(dataset: .mnist, pixels: .unit) && run.output == nil)
        #expect(learning.rule == .ep(beta: 0.5, nudging: .positive) && learning.energy == .hopfield)
        #expect(learning.training.optimizer == .sgd && learning.training.weightDecay == 0 && learning.training.cost == .squaredError)
        #expect(!learning.dynamics.stableSteps && !learning.dynamics.persistentParticles && learning.dynamics.noise == 0)
    }

    @Test("Pixels map to [0, 1] or to [−1, 1]; the run file names the scaling and the weight decay")
    func pixelsAndWeightDecay() throws {
        #expect(PixelScaling.unit.value(0) as Float == 0 && PixelScaling.unit.value(255) as Float == 1)
        #expect(PixelScaling.symmetric.value(0) as Float == -1 && PixelScaling.symmetric.value(255) as Float == 1)
        #expect(abs(PixelScaling.symmetric.value(128) as Double - 1.0 / 255) < 1e-15)
        let text = """
            seed: 3
            pixels: symmetric
            architecture: {layers: [4, 2]}
            dynamics: {epsilon: 0.5, nudged-steps: 2}
            rule: {name: pc, output-precision: 0.5}
            energy: {kind: pc}
            training: {epochs: 1, batch-size: 2, learning-rates: [0.1], weight-decay: 0.25}
            """
        let run = try RunFile(yaml: text, file: "run.yaml")
        #expect(run.specification.data.pixels == .symmetric && run.specification.learning.training.weightDecay == 0.25)
        #expect(try RunFile(yaml: run.yaml, file: "again.yaml") == run)
        #expect(throws: RunFileError(file: "run.yaml", line: 2, message: "'pixels': expected one of unit, symmetric, got 'centred'")) {
            try RunFile(yaml: text.replacingOccurrences(of: "symmetric", with: "centred"), file: "run.yaml")
        }
    }

    static let badFiles: [(String, String, Int?, String)] = [
        ("unknown key", "seed: 1\nrule:\n  name: ep\n  betta: 1\n", 4, "unknown key 'rule.betta'"),
        ("wrong type", "seed: one\n", 1, "'seed': expected a non-negative integer, got 'one'"),
        ("negative seed", "seed: -1\n", 1, "'seed': expected a non-negative integer"),
        ("quoted number", "seed: \"1\"\n", 1, "got the quoted string \"1\""),
        ("misspelt key", "seed: 1\narchitecture:\n  layer: [784, 10]\n", 3, "unknown key 'architecture.layer'; expected one of layers"),
        ("list of words", "seed: 1\narchitecture:\n  layers: [784, many]\n", 3, "'architecture.layers': expected a list"),
        ("section not a mapping", "seed: 1\narchitecture: 784\n", 2, "architecture: expected a mapping"),
        ("missing section", "seed: 1\n", nil, "missing the key 'architecture.layers'"),
        ("top level a list", "- 1\n- 2\n", 1, "the run file: expected a mapping"),
        ("broken YAML", "seed: [1\n", 2, "not valid YAML"),
        ("empty", "", nil, "empty"),
    ]

    @Test("Bad run files are refused with the file, the line and the key", arguments: badFiles)
    func badRunFiles(name: String, text: String, line: Int?, fragment: String) {
        do {
            _ = try RunFile(yaml: text, file: "bad.yaml")
            Issue.record("\(name) was accepted")
        } catch let error as RunFileError {
            #expect(error.file == "bad.yaml")
            #expect(error.line == line, "\(error)")
            #expect(error.description.contains(fragment), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("An impossible value is refused at its line, named by its run-file key")
    func impossibleValueNamesItsLine() throws {
        let net1 = RunFile.presets["scellier2017-net1"]!.yaml.replacingOccurrences(of: "batch-size: 20", with: "batch-size: 0")
        let line = net1.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("batch-size: 0") }! + 1
        #expect(throws: RunFileError(file: "net1.yaml", line: line, message: "training.batch-size: expected a positive number, got 0")) {
            try RunFile(yaml: net1, file: "net1.yaml")
        }
    }

    /// A checkpoint read back from `bytes`, through a file.
    func reading(_ bytes: Data) throws -> Checkpoint {
        let file = try temporaryFolder().appendingPathComponent("epoch-0002.npz")
        try bytes.write(to: file)
        return try Checkpoint(contentsOf: file)
    }

    /// family-mlp on 6-5-3, batches of 4, and a synthetic problem of 24 examples.
    func smallRun() -> (RunFile, ClassificationData<Float>) {
        var run = RunFile.presets["family-mlp"]!
        run.specification.learning.architecture = ArchitectureSpecification(layerSizes: [6, 5, 3])
        run.specification.learning.training.learningRates = [0.01, 0.01]
        run.specification.learning.training.batchSize = 4
        var generator = SeededGenerator(seed: 5)
        let inputs = Matrix<Float>(rows: 24, columns: 6, elements: (0..<144).map { _ in Float.random(in: 0...1, using: &generator) })
        return (run, ClassificationData(inputs: inputs, labels: (0..<24).map { $0 % 3 }, classCount: 3))
    }

    /// A trainer of the small run with Adam after two epochs.
    func trainedTrainer() throws -> (Trainer<Float>, RunFile, ClassificationData<Float>) {
        let (run, data) = smallRun()
        var trainer: Trainer<Float> = try run.specification.learning.makeTrainer(trainingCount: data.count)
        for _ in 0..<2 { _ = try trainer.trainEpoch(on: data) }
        return (trainer, run, data)
    }

    @Test("A checkpoint restores a run that then continues bit for bit like the original")
    func checkpointResumesExactly() throws {
        var (original, run, data) = try trainedTrainer()
        let record = EpochRecord(epoch: 2, trainError: 0.5, testError: 0.5, trainCost: 1, testCost: 1, seconds: 0.1, learningRateFactor: 1)
        let checkpoint = try reading(Checkpoint(trainer: original, run: run, trainLimit: 24, history: [record]).npz())
        #expect(checkpoint.metadata.epoch == 2 && checkpoint.metadata.trainLimit == 24 && checkpoint.metadata.history == [record])
        #expect(checkpoint.metadata.optimizerSteps == 12 && checkpoint.arrays["optimizer/m/W0-1"] != nil && checkpoint.arrays["optimizer/v/b2"] != nil)
        var restored: Trainer<Float> = try #require(try checkpoint.runFile(file: "epoch-0002.npz")).specification.learning.makeTrainer(trainingCount: data.count)
        try checkpoint.restore(into: &restored, file: "epoch-0002.npz")
        for _ in 0..<2 {
            #expect(try original.trainEpoch(on: data) == restored.trainEpoch(on: data))
        }
        #expect(original.energy.parameters == restored.energy.parameters)
        #expect(original.optimizer.memory == restored.optimizer.memory)
        #expect(original.generator == restored.generator && original.epochsTrained == 4)
    }

    @Test("A convolutional run's checkpoint writes its weights as [C_out, C_in, k, k] and restores the run bit for bit")
    func convolutionalCheckpoint() throws {
        var run = RunFile.presets["scellier2017-net1"]!
        run.specification.learning.architecture = ArchitectureSpecification(
            layers: [[1, 2, 3], [2, 1, 2], [3]].map(LayerShape.init(dimensions:)),
            interactions: [.convolution(lower: 0, upper: 1, kernel: 2, stride: 1, padding: 0), .dense(lower: 1, upper: 2)])
        run.specification.learning.training.optimizer = .adam
        run.specification.learning.training.batchSize = 4
        run.specification.learning.training.learningRates = [0.01, 0.01]
        try run.specification.learning.validate()
        let (_, data) = smallRun()
        var original: Trainer<Float> = try run.specification.learning.makeTrainer(trainingCount: data.count)
        _ = try original.trainEpoch(on: data)
        let written = Checkpoint(trainer: original, run: run, trainLimit: 24, history: [])
        #expect(written.shapes == ["C0-1": [2, 1, 2, 2], "optimizer/m/C0-1": [2, 1, 2, 2], "optimizer/v/C0-1": [2, 1, 2, 2]])
        let checkpoint = try reading(written.npz())
        #expect(checkpoint.arrays["C0-1"] == original.energy.parameters[0][0])
        var restored: Trainer<Float> = try #require(try checkpoint.runFile(file: "epoch-0001.npz")).specification.learning.makeTrainer(trainingCount: data.count)
        try checkpoint.restore(into: &restored, file: "epoch-0001.npz")
        #expect(try original.trainEpoch(on: data) == restored.trainEpoch(on: data))
        #expect(original.energy.parameters == restored.energy.parameters)
    }

    @Test("Truncated or corrupted checkpoints are refused with a reason")
    func damagedCheckpoints() throws {
        let (trainer, run, _) = try trainedTrainer()
        let bytes = try Checkpoint(trainer: trainer, run: run, trainLimit: nil, history: []).npz()
        // A byte flipped inside an array's data (past the first .npy's magic and header).
        var flipped = bytes
        let magic = try #require(bytes.firstRange(of: Data([0x93] + Array("NUMPY".utf8))))
        flipped[magic.lowerBound + 140] ^= 0xFF
        // The central directory said to lie beyond the end of the file: ZIPFoundation's in-memory
        // reader trapped on such an archive (found by fuzzing); reading from the file reports it.
        var misplaced = bytes
        let end = bytes.count - 22
        #expect(Array(bytes[end..<(end + 4)]) == [0x50, 0x4B, 0x05, 0x06], "the end-of-central-directory record")
        misplaced.replaceSubrange((end + 16)..<(end + 20), with: [0xF0, 0xFF, 0xFF, 0x0F])
        let cases = [("truncated", Data(bytes.prefix(bytes.count / 2))), ("flipped", flipped), ("empty", Data()), ("text", Data("hello".utf8)),
                     ("central directory beyond the end", misplaced)]
        for (name, damaged) in cases {
            #expect(throws: CheckpointError.self, "\(name)") { try reading(damaged) }
        }
    }

    @Test("A checkpoint of another network is refused by restore, which then changes nothing")
    func shapeMismatch() throws {
        let (trainer, run, _) = try trainedTrainer()
        let checkpoint = try reading(Checkpoint(trainer: trainer, run: run, trainLimit: nil, history: []).npz())
        var other = run.specification.learning
        other.architecture = ArchitectureSpecification(layerSizes: [6, 4, 3])
        var wrong: Trainer<Float> = try other.makeTrainer(trainingCount: 24)
        let before = wrong.energy.parameters
        #expect(throws: CheckpointError.self) { try checkpoint.restore(into: &wrong, file: "x.npz") }
        #expect(wrong.energy.parameters == before && wrong.epochsTrained == 0)
    }

    @Test("A run folder keeps the last N checkpoints; a run resumes from the newest readable one")
    func runFolderKeepsCheckpoints() throws {
        let (runFile, data) = smallRun()
        let folder = try RunFolder(path: try temporaryFolder().path, keptCheckpoints: 2)
        var run = try TrainingRun(runFile, name: "small", data: DataSplits(training: data, test: data), folder: folder)
        for _ in 1...3 { try run.trainEpoch() }
        #expect(try folder.checkpointFiles().map(\.lastPathComponent) == ["epoch-0002.npz", "epoch-0003.npz"])
        let newest = try folder.checkpointFiles().last!
        let good = try Data(contentsOf: newest)
        try good.prefix(good.count - 10).write(to: newest)
        let (resumed, refused) = try TrainingRun.resuming(folder) { _, _ in DataSplits(training: data, test: data) }
        #expect(resumed.trainer.epochsTrained == 2 && resumed.history.count == 2)
        #expect(refused.count == 1 && refused[0].file == newest.path)
        #expect(FileManager.default.fileExists(atPath: newest.path))
        #expect(try RunFolder.history(in: folder.url.path) == run.history)
    }

    @Test("A folder that keeps only metrics.csv (as docs/runs does) reads back the same records; columns go by the header; a bad line is named")
    func historyFromCSV() throws {
        let (runFile, data) = smallRun()
        let folder = try RunFolder(path: try temporaryFolder().path)
        var run = try TrainingRun(runFile, name: "small", data: DataSplits(training: data, test: data), folder: folder)
        for _ in 1...2 { try run.trainEpoch() }
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("metrics.jsonl"))
        #expect(try RunFolder.history(in: folder.url.path) == run.history)

        let csv = folder.url.appendingPathComponent("metrics.csv")
        try "validation_error,epoch,train_error,test_error,train_cost,test_cost,seconds,learning_rate_factor,free_steps\n0.25,1,0.5,0.375,1,2,3.5,1,\n"
            .write(to: csv, atomically: true, encoding: .utf8)
        var expected = EpochRecord(epoch: 1, trainError: 0.5, testError: 0.375, trainCost: 1, testCost: 2, seconds: 3.5, learningRateFactor: 1)
        expected.validationError = 0.25
        #expect(try RunFolder.history(in: folder.url.path) == [expected])
        for bad in ["0.25,1,0.5,0.375,1,2,3.5\n", "0.25,1,0.5,nan,1,2,3.5,1,\n", "0.25,,0.5,0.375,1,2,3.5,1,\n"] {
            try ("validation_error,epoch,train_error,test_error,train_cost,test_cost,seconds,learning_rate_factor,free_steps\n0.25,1,0.5,0.375,1,2,3.5,1,\n" + bad)
                .write(to: csv, atomically: true, encoding: .utf8)
            let error = try #require(throws: RunFolderError.self) { try RunFolder.history(in: folder.url.path) }
            #expect(error.description.hasPrefix(csv.path + ":3: expected 9 numbers under the header"), "\(bad)")
        }
        try FileManager.default.removeItem(at: csv)
        let missing = try #require(throws: RunFolderError.self) { try RunFolder.history(in: folder.url.path) }
        #expect(missing.description.contains("metrics.jsonl: no such file, nor metrics.csv"))
    }

    @Test("After training, the alignment of PC-Nudge at a small λ with backprop is ≈ 1, and measuring it leaves the trainer as it was")
    func alignmentAfterTraining() throws {
        let (trainer, run, data) = try trainedTrainer()
        var learning = run.specification.learning
        learning.rule = .pcNudge(lambda: 1e-4)
        learning.dynamics.nudgedSteps = 400
        learning.dynamics.stepSize = 0.1
        let before = (trainer.energy.parameters, trainer.generator, trainer.optimizer.memory)
        let small = try #require(try trainer.alignment(specification: learning, on: data, examples: 8).comparison)
        #expect(small.cosine > 0.9999 && small.relativeError < 1e-2, "\(small)")
        learning.dynamics.nudgedSteps = 2
        let short = try #require(try trainer.alignment(specification: learning, on: data, examples: 8).comparison)
        #expect(short.cosine < small.cosine, "two inference steps do not reach the lower layer: \(short)")
        #expect(trainer.energy.parameters == before.0 && trainer.generator == before.1 && trainer.optimizer.memory == before.2)
    }

    @Test("Alignment is measured on examples whose output is not all on its box's bounds: elsewhere the exact gradient is zero")
    func alignmentRows() throws {
        let run = try RunFile(yaml: """
            seed: 1
            architecture: {layers: [2, 2]}
            dynamics: {epsilon: 0.5, free-steps: 60, nudged-steps: 4}
            rule: {name: ep, beta: 0.5}
            training: {epochs: 1, batch-size: 5, learning-rates: [0.1]}
            """, file: "rows.yaml")
        var trainer: Trainer<Float> = try run.specification.learning.makeTrainer(trainingCount: 0)
        // Output = clip(2x): 1 (on the bound) for x = 1, 0.5 (inside the box) for x = 0.25.
        for (index, term) in trainer.energy.terms.enumerated() where term.name == "W0-1" {
            trainer.energy.terms[index].parameters = [Matrix(rows: 2, columns: 2, elements: [2, 0, 0, 2])]
        }
        let inputs = Matrix<Float>(rows: 5, columns: 2, elements: [1, 1, 1, 1, 0.25, 0.25, 1, 1, 0.25, 0.25])
        let data = ClassificationData(inputs: inputs, labels: [0, 1, 0, 1, 0], classCount: 2)
        #expect(try trainer.rowsWithGradient(in: data, count: 2, specification: run.specification.learning) == [2, 4])
        #expect(try trainer.rowsWithGradient(in: data, count: 3, specification: run.specification.learning) == [2, 4], "too few qualify: those that do")
        let saturated = ClassificationData(inputs: Matrix<Float>(rows: 3, columns: 2, repeating: 1), labels: [0, 1, 0], classCount: 2)
        #expect(try trainer.rowsWithGradient(in: saturated, count: 2, specification: run.specification.learning) == [0, 1], "none qualifies: the first rows")
    }

    @Test("A collapse is reported: the test error back above 50%, or the update pointing away from the gradient")
    func collapseWarnings() {
        func record(_ epoch: Int, _ testError: Double, _ cosine: Double?) -> EpochRecord {
            var r = EpochRecord(epoch: epoch, trainError: testError, testError: testError, trainCost: 0, testCost: 0, seconds: 1,
                                learningRateFactor: 1)
            r.alignmentCosine = cosine
            return r
        }
        // The PC-Nudge run of the README, epochs 1–4 (test error, cosine).
        let run = [record(1, 0.0316, 0.592), record(2, 0.0266, 0.545), record(3, 0.8893, 0.219), record(4, 0.9167, -0.015)]
        #expect(EpochRecord.collapseWarning(Array(run.prefix(2)), stableSteps: false) == nil)
        let third = EpochRecord.collapseWarning(Array(run.prefix(3)), stableSteps: false)
        #expect(third?.contains("epoch 3") == true && third?.contains("88.93%") == true && third?.contains("--stable-steps") == true)
        let fourth = EpochRecord.collapseWarning(run, stableSteps: true)
        #expect(fourth?.contains("cosine -0.015") == true && fourth?.contains("smaller --epsilon") == true)
        // A run that starts at chance and learns slowly is not a collapse.
        #expect(EpochRecord.collapseWarning([record(1, 0.9, 0.3), record(2, 0.7, 0.3)], stableSteps: false) == nil)
    }
}
