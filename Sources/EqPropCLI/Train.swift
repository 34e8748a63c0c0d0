import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import TrainingRuns

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a layered network with Equilibrium Propagation or another energy-based rule.",
        discussion: """
            A run is a YAML run file (`eqprop train run.yaml`) or a preset (--preset; the presets are run files: \
            \(RunFile.presets.keys.sorted().joined(separator: ", "))). Every setting can be overridden by its flag; \
            a setting the run does not use is refused. The rules: \
            \(RuleName.allCases.map { "\($0.rawValue), \($0.summary)" }.joined(separator: "; ")). \
            With --energy pc the free phase is the feed-forward pass, and --nudged-steps and --epsilon are the inference steps and rate. \
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

    @OptionGroup var settings: RunOptions
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
            if let first = settings.describingRun(data: data, others: [("--train-limit", data.trainLimit != nil), ("--output", output != nil)]).first {
                throw ValidationError("--resume: the run's settings come from its checkpoint; \(first) cannot be given with --resume")
            }
        }
    }

    func run() throws {
        compute.configureBLAS()
        var run: TrainingRun
        if let resume {
            guard FileManager.default.fileExists(atPath: resume) else {
                throw ValidationError("--resume: no run folder at \(resume); expected the --output folder of an earlier run")
            }
            let folder = try RunFolder(path: resume, keptCheckpoints: keepCheckpoints, flag: "--resume")
            let refused: [CheckpointError]
            (run, refused) = try TrainingRun.resuming(folder, parallelBlocks: { compute.parallelBlocks(for: $0.learning) }) { specification, trainLimit in
                try data.load(specification.data, trainLimit: trainLimit)
            }
            for refusal in refused {
                FileHandle.standardError.write(Data("eqprop train: \(refusal); resuming from the previous checkpoint\n".utf8))
            }
        } else {
            let (runFile, name) = try settings.resolved(dataset: data.dataset, output: output)
            if MPIJob.ranks != nil { try MPIJob.requireDataParallel(runFile.specification.learning) }
            // Folders that cannot be made are reported now, not after the first epoch.
            if let metricsJson { try createFolder(containing: metricsJson, flag: "--metrics-json") }
            // On MPI ranks only rank 0 writes.
            let folder = try runFile.output.map { MPIJob.isLeader ? try RunFolder(path: $0, keptCheckpoints: keepCheckpoints) : nil } ?? nil
            run = try TrainingRun(runFile, name: name, data: try data.load(runFile.specification.data), trainLimit: data.trainLimit, folder: folder,
                                  parallelBlocks: compute.parallelBlocks(for: runFile.specification.learning))
        }
        let specification = run.runFile!.specification
        if let ranks = MPIJob.ranks {
            try MPIJob.requireDataParallel(specification.learning)
            run.trainer.group = ranks
            if ranks.rank != 0 { run.folder = nil }
        }
        if run.folder != nil { run.alignmentExamples = alignmentExamples }
        if MPIJob.isLeader {
            run.modelFolder = saveModel.map(URL.init(fileURLWithPath:))
            run.metricsFile = metricsJson.map(URL.init(fileURLWithPath:))
        }
        let trainingCount = run.training.count
        say(summary(run.name, specification, training: run.training.count, validation: run.validation?.count ?? 0, test: run.test.count)
            + (MPIJob.ranks.map { ", on \($0.size) MPI ranks (each batch split among them)" } ?? ""))
        if run.trainer.epochsTrained > 0 { say("resuming after epoch \(run.trainer.epochsTrained) of \(run.trainer.plannedEpochs)") }
        let terminal = isatty(STDOUT_FILENO) != 0 && !quiet
        var lastPrint = -Double.infinity
        try run.train { event in
            switch event {
            case let .progress(epoch, progress, seconds):
                // A bar redrawn in place on a terminal; otherwise (a log file) a plain line every 30 s.
                guard !quiet, MPIJob.isLeader, seconds - lastPrint >= (terminal ? 0.2 : 30) else { return }
                lastPrint = seconds
                let line = ProgressLine(epoch: epoch, epochs: specification.learning.training.epochs, progress: progress, elapsed: seconds)
                print(terminal ? "\r\(line.bar)" : line.plain, terminator: terminal ? "" : "\n")
                fflush(nil)
            case let .epoch(record, _):
                lastPrint = -Double.infinity
                if terminal { print("\r\u{1B}[K", terminator: "") }
                say("epoch \(record.epoch)/\(specification.learning.training.epochs): train error \(percent(record.trainError)) cost \(String(format: "%.4f", record.trainCost)) | "
                    + (record.validationError.map { "validation error \(percent($0)) | " } ?? "")
                    + "test error \(percent(record.testError)) | "
                    + (specification.learning.dynamics.freeSteps != nil ? String(format: "free phase %.1f steps (%.1f per example), %@ unsettled | ", record.freeSteps ?? 0, record.freeExampleSteps ?? 0, percent(record.unsettledFraction ?? 0)) : "")
                    + (record.secondPhaseSteps.map { String(format: "second phase %.1f steps (%.1f per example), %@ unsettled | ", $0, record.secondPhaseExampleSteps ?? 0,
                                                      percent(record.secondPhaseUnsettledFraction ?? 0)) } ?? "")
                    + "\(String(format: "%.2f", record.seconds)) s, \(Int(Double(trainingCount) / record.seconds)) samples/s")
                fflush(nil)
            case let .warning(warning) where MPIJob.isLeader:
                FileHandle.standardError.write(Data("eqprop train: warning: \(warning)\n".utf8))
            case .warning: break
            }
        }
        let metrics = run.metrics
        if let epoch = metrics.selectedEpoch, let validation = metrics.selectedValidationError, let test = metrics.selectedTestError {
            say("chosen on the validation set: epoch \(epoch) (validation error \(percent(validation))), test error \(percent(test)); "
                + "last epoch's test error \(percent(metrics.testError))")
        } else {
            say("no validation set held out, so no epoch was chosen: the last epoch's test error is \(percent(metrics.testError))")
        }
    }

    private func say(_ line: String) {
        if !quiet, MPIJob.isLeader { print(line) }
    }

    /// One line on the run: network, data, phases, energy, rule, optimizer (with weight decay and augmentation, if any), seed.
    private func summary(_ name: String, _ run: RunSpecification, training: Int, validation: Int, test: Int) -> String {
        let l = run.learning
        let phases = (l.dynamics.freeSteps.map { "\($0)" } ?? "feed-forward") + "/\(l.rule.hasSecondPhase ? "\(l.dynamics.nudgedSteps)" : "none")"
        return "eqprop train: \(name) \(l.architecture.summary) on \(run.data.dataset.rawValue) "
            + "(\(training) train, \(validation) validation, \(test) test), batch \(l.training.batchSize), steps \(phases), \(l.energy.kind.rawValue) energy, "
            + "rule \(l.rule.summary), \(l.dynamics.minimizerSummary), \(l.training.optimizer.rawValue) rates (\(l.training.schedule.rawValue)) "
            + "\(l.training.learningRates)\(l.training.weightDecay > 0 ? ", weight decay \(l.training.weightDecay)" : "")"
            + "\(l.training.randomShift > 0 ? ", images shifted by up to \(l.training.randomShift) pixel\(l.training.randomShift == 1 ? "" : "s")" : "")\(l.training.horizontalFlip ? ", half mirrored" : "")"
            + ", seed \(l.seed), BLAS kernel \(BLAS.coreName)"
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

/// Distinct seeds written `1,2,3`, `1-5` or a mixture.
func parseSeeds(_ text: String, flag: String) throws -> [UInt64] {
    let seeds = try text.split(separator: ",").flatMap { item -> [UInt64] in
        let bounds = item.split(separator: "-", maxSplits: 1).map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        guard bounds.allSatisfy({ $0 != nil }), let low = bounds.first!, let high = bounds.last!, low <= high else {
            throw ValidationError("--\(flag): expected seeds such as 1,2,3 or 1-5, got '\(text)'")
        }
        return Array(low...high)
    }
    guard !seeds.isEmpty, Set(seeds).count == seeds.count else { throw ValidationError("--\(flag): expected distinct seeds, got '\(text)'") }
    return seeds
}

/// Prints `value` as pretty JSON on standard output.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    FileHandle.standardOutput.write(try encoder.encode(value) + Data([0x0a]))
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

/// Writes an output file with ``AtomicFile``, creating its folder first; an error names `flag` and the file.
func writeOutput(_ data: Data, to path: String, flag: String) throws {
    try createFolder(containing: path, flag: flag)
    do {
        try AtomicFile.write(data, to: URL(fileURLWithPath: path))
    } catch {
        throw ValidationError("\(flag): cannot write \(path): \(error)")
    }
}
