import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import TrainingRuns

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a layered network with Equilibrium Propagation or another rule of the family.",
        discussion: """
            A run is a YAML run file (`eqprop train run.yaml`) or a preset (--preset; the presets are run files: \
            \(RunFile.presets.keys.sorted().joined(separator: ", "))). Every setting can be overridden by its flag. \
            With --energy pc the free phase is the feed-forward pass, --nudged-steps and --epsilon are the inference steps and \
            rate, and --beta is the rule's nudge (λ for pc-nudge, the output precision π_L for pc). \
            With --output DIR a checkpoint is written after every epoch, and `eqprop train --resume DIR` continues the run \
            exactly where its last checkpoint left it.
            """)

    @Option(help: ArgumentHelp("Continue the run in this folder from its last good checkpoint; no other run settings may be given.", valueName: "dir"))
    var resume: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("With --output: how many checkpoints to keep.", valueName: "n"))
    var keepCheckpoints: Int = 3

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "With --output: after each epoch, measure the rule's update against the exact gradient on this many test examples, in Double (0: off).",
        valueName: "n"))
    var alignmentExamples: Int = 16

    @OptionGroup var settings: RunSettings
    @OptionGroup var data: DataOptions
    @OptionGroup var compute: ComputeOptions

    @Option(help: ArgumentHelp("Write the metrics as JSON to this file, rewritten after every epoch.", valueName: "path"))
    var metricsJson: String?
    @Option(help: ArgumentHelp(
        "Run folder: run.yaml, per-epoch metrics.jsonl and metrics.csv, metrics.json, the model and .npz checkpoints, written after every epoch (draw them with `eqprop plot DIR`).",
        valueName: "dir"))
    var output: String?
    @Flag(help: "Print nothing but errors.") var quiet = false
    @Option(help: ArgumentHelp("Save the model into this folder after every epoch (NumPy .npy files).", valueName: "dir"))
    var saveModel: String?

    func validate() throws {
        if alignmentExamples < 0 {
            throw ValidationError("--alignment-examples: expected 0 (off) or a positive number, got \(alignmentExamples)")
        }
        if keepCheckpoints < 1 {
            throw ValidationError("--keep-checkpoints: expected at least 1, got \(keepCheckpoints)")
        }
        if resume != nil {
            // The run's own settings come from its checkpoint; any flag that would change them is refused.
            var probe = try RunFile.preset("scellier2017-net1").configuration
            let given = [("a run file", settings.runFile != nil), ("--preset", settings.preset != nil), ("--dataset", data.dataset != nil),
                         ("--train-limit", data.trainLimit != nil), ("--output", output != nil)].filter(\.1).map(\.0)
                + (try settings.apply(to: &probe))
            if let first = given.first {
                throw ValidationError("--resume: the run's settings come from its checkpoint; \(first) cannot be given with --resume")
            }
        }
    }

    func run() throws {
        compute.configureBLAS()
        var run: RunFile, name: String, trainLimit = data.trainLimit
        var resumed: Checkpoint?, resumedFolder: RunFolder?
        if let resume {
            guard FileManager.default.fileExists(atPath: resume) else {
                throw ValidationError("--resume: no run folder at \(resume); expected the --output folder of an earlier run")
            }
            let folder = try RunFolder(path: resume, keptCheckpoints: keepCheckpoints, flag: "--resume")
            let (checkpoint, file, refused) = try folder.latestCheckpoint()
            for refusal in refused {
                FileHandle.standardError.write(Data("eqprop train: \(refusal); resuming from the previous checkpoint\n".utf8))
            }
            run = try checkpoint.runFile(file: file.path)
            run.output = resume
            name = resume
            trainLimit = checkpoint.metadata.trainLimit
            resumed = checkpoint
            resumedFolder = folder
        } else {
            (run, name) = try settings.resolved(dataset: data.dataset, output: output)
        }
        let configuration = run.configuration
        let (train, test) = try data.load(run.dataset, trainLimit: trainLimit, pixels: configuration.pixels)
        guard train.inputs.columns == configuration.layerSizes.first, train.targets.columns == configuration.layerSizes.last else {
            throw ValidationError("--layers: the data has \(train.inputs.columns) inputs and \(train.targets.columns) classes, the network \(configuration.layerSizes)")
        }
        // A folder that cannot be made is reported now, not after the first epoch.
        if let metricsJson, metricsJson != "-" { try createFolder(containing: metricsJson, flag: "--metrics-json") }
        var trainer = try Trainer<Float>(configuration: configuration, trainingCount: train.count, parallelBlocks: compute.parallelBlocks(for: configuration))
        var history: [EpochRecord] = []
        if let resumed, let resume {
            try resumed.restore(into: &trainer, file: resume)
            history = resumed.metadata.history
        }
        let runFolder = try resumedFolder ?? run.output.map { try RunFolder(path: $0, keptCheckpoints: keepCheckpoints) }
        if resumed == nil { try runFolder?.start(run) }
        func say(_ line: String) {
            if !quiet { print(line) }
        }
        say("eqprop train: \(name) \(configuration.layerSizes.map(String.init).joined(separator: "-")) on \(run.dataset.rawValue) "
              + "(\(train.count) train, \(test.count) test), batch \(configuration.batchSize), steps \(configuration.freeSteps)/\(configuration.nudgedSteps), "
              + "\(configuration.energy.rawValue) energy, rule \(configuration.rule.rawValue), ε \(configuration.stepSize), β \(configuration.beta)\(configuration.randomSign ? " (random sign)" : ""), \(configuration.nudging.rawValue), "
              + "\(configuration.optimizer.rawValue) rates (\(configuration.schedule.rawValue)) \(configuration.learningRates), seed \(configuration.seed), BLAS kernel \(BLAS.coreName)")
        if resumed != nil { say("resuming after epoch \(trainer.epochsTrained) of \(configuration.epochs)") }
        var trainingSeconds = history.map(\.seconds).reduce(0, +)
        let terminal = isatty(STDOUT_FILENO) != 0 && !quiet
        for epoch in stride(from: trainer.epochsTrained + 1, through: configuration.epochs, by: 1) {
            let learningRateFactor = trainer.learningRateFactor
            let start = DispatchTime.now()
            var lastPrint = start
            let trainMeasurement = try trainer.trainEpoch(on: train) { progress in
                guard !quiet else { return }
                let now = DispatchTime.now()
                let sinceLast = Double(now.uptimeNanoseconds - lastPrint.uptimeNanoseconds) / 1e9
                // A bar redrawn in place on a terminal; otherwise (a log file) a plain line every 30 s.
                guard sinceLast >= (terminal ? 0.2 : 30) else { return }
                lastPrint = now
                let line = ProgressLine(epoch: epoch, epochs: configuration.epochs, progress: progress,
                                        elapsed: Double(now.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
                if terminal {
                    print("\r\(line.bar)", terminator: "")
                } else {
                    print(line.plain)
                }
                fflush(nil)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            trainingSeconds += seconds
            let testMeasurement = try trainer.evaluate(on: test)
            if terminal { print("\r\u{1B}[K", terminator: "") }
            say("epoch \(epoch)/\(configuration.epochs): train error \(percent(trainMeasurement.error)) cost \(String(format: "%.4f", trainMeasurement.cost)) | "
                  + "test error \(percent(testMeasurement.error)) | \(String(format: "%.2f", seconds)) s, \(Int(Double(train.count) / seconds)) samples/s")
            fflush(nil)
            if let saveModel {
                try ModelArchive.save(trainer.energy, configuration: configuration, dataset: run.dataset.rawValue, to: URL(fileURLWithPath: saveModel))
            }
            // A measurement, not part of training: if it fails, say so and train on.
            var alignment: GradientComparison?
            if runFolder != nil, alignmentExamples > 0 {
                do {
                    alignment = try trainer.alignment(configuration: configuration, on: test, examples: alignmentExamples)
                } catch {
                    FileHandle.standardError.write(Data("eqprop train: warning: epoch \(epoch): alignment not measured: \(error)\n".utf8))
                }
            }
            history.append(EpochRecord(epoch: epoch, trainError: trainMeasurement.error, testError: testMeasurement.error,
                                       trainCost: trainMeasurement.cost, testCost: testMeasurement.cost, seconds: seconds,
                                       learningRateFactor: learningRateFactor, testEnergy: testMeasurement.energy, alignment: alignment))
            if let warning = EpochRecord.collapseWarning(history, stableSteps: configuration.stableSteps) {
                FileHandle.standardError.write(Data("eqprop train: warning: \(warning)\n".utf8))
            }
            let metrics = TrainingMetrics(
                preset: name, dataset: run.dataset.rawValue, configuration: configuration, epochs: epoch,
                trainError: trainMeasurement.error, testError: testMeasurement.error,
                trainCost: trainMeasurement.cost, testCost: testMeasurement.cost,
                secondsPerEpoch: trainingSeconds / Double(epoch),
                samplesPerSecond: Double(train.count * epoch) / trainingSeconds,
                blasKernel: BLAS.coreName)
            if let metricsJson { try writeJSON(metrics, to: metricsJson, flag: "--metrics-json") }
            try runFolder?.record(history, metrics: metrics, checkpoint: Checkpoint(trainer: trainer, run: run, trainLimit: trainLimit, history: history),
                                  energy: trainer.energy)
        }
    }
}

func percent(_ fraction: Double) -> String { String(format: "%.2f%%", 100 * fraction) }

func parseList<T: LosslessStringConvertible>(_ text: String, flag: String) throws -> [T] {
    let items = text.split(separator: ",").map { T(String($0).trimmingCharacters(in: .whitespaces)) }
    guard !items.isEmpty, items.allSatisfy({ $0 != nil }) else {
        throw ValidationError("--\(flag): expected a comma-separated list of numbers, got '\(text)'")
    }
    return items.map { $0! }
}

/// Writes `value` as pretty JSON to `path` (see ``writeOutput(_:to:flag:)``); `-` writes to standard output.
func writeJSON<T: Encodable>(_ value: T, to path: String, flag: String = "--json") throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    var data = try encoder.encode(value)
    data.append(0x0a)
    if path == "-" {
        FileHandle.standardOutput.write(data)
    } else {
        try writeOutput(data, to: path, flag: flag)
    }
}

/// Creates the folder that will hold `path`; an error names `flag` and the folder.
func createFolder(containing path: String, flag: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
        throw ValidationError("\(flag): cannot create the folder \(folder.path) for \(path): \(error.localizedDescription)")
    }
}

/// Writes an output file atomically, creating its folder first; an error names `flag` and the file.
func writeOutput(_ data: Data, to path: String, flag: String) throws {
    try createFolder(containing: path, flag: flag)
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw ValidationError("\(flag): cannot write \(path): \(error.localizedDescription)")
    }
}

extension TrainingConfiguration.EnergyKind: ExpressibleByArgument {}
extension RuleName: ExpressibleByArgument {}
extension OptimizerName: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}
extension PixelScaling: ExpressibleByArgument {}
