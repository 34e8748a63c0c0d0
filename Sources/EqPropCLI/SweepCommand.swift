import ArgumentParser
import Foundation
import LinearAlgebra
import TrainingRuns

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Train a run over seeds and variants of its settings, and summarise each variant over the seeds (mean ± sd).",
        discussion: """
            Every run of the grid (the variants given by --variant and --set, times --seeds) trains in its own run folder, \
            OUTPUT/<variant>/seed-<seed>, as `eqprop train --output` would; OUTPUT/summary.md, summary.csv and summary.json \
            hold, for each variant, the test error at the epoch chosen on the validation set and at the last epoch, the \
            validation and training errors, the chosen epoch and the seconds per epoch, each as mean ± standard deviation over \
            the seeds, rewritten after each run. A run already complete is skipped and one with checkpoints resumed, so a sweep \
            that stops continues where it stopped when run again. Every run is checked before any trains. \
            Under `mpirun -np N`, the runs are shared out among the ranks (rank r trains runs r, r + N, …), and rank 0 \
            writes the summary (after each of its runs, and once all are done).
            """)

    @OptionGroup var settings: RunOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var compute: ComputeOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("Seeds, comma-separated, or ranges such as 1-5.", valueName: "list"))
    var seeds = "1,2,3"
    @Option(name: .customLong("set"),
            help: ArgumentHelp("A grid axis: a setting's flag name and its values, e.g. beta=0.1,0.01 (repeat for more axes).", valueName: "flag=values"))
    var sets: [String] = []
    @Option(name: .customLong("variant"),
            help: ArgumentHelp("One variant: settings such as 'rule=pc-nudge lambda=0.1' (repeat for more; combined with every --set value).", valueName: "settings"))
    var variants: [String] = []
    @Option(help: ArgumentHelp("The folder of the sweep's runs and summary.", valueName: "dir")) var output: String
    @Option(parsing: .unconditional, help: ArgumentHelp("Checkpoints kept per run.", valueName: "n")) var keepCheckpoints: Int = 2
    @Option(parsing: .unconditional, help: ArgumentHelp("After each epoch, measure the rule's update against the exact gradient on this many test examples (0: off).", valueName: "n"))
    var alignmentExamples: Int = 0
    @Flag(help: "Print nothing but errors and the summary.") var quiet = false

    func validate() throws {
        if settings.seed != nil { throw ValidationError("--seed: a sweep takes its seeds with --seeds") }
        if keepCheckpoints < 1 { throw ValidationError("--keep-checkpoints: expected at least 1, got \(keepCheckpoints)") }
        if alignmentExamples < 0 { throw ValidationError("--alignment-examples: expected 0 (off) or a positive number, got \(alignmentExamples)") }
    }

    func run() throws {
        compute.configureBLAS()
        let axes = try sets.map { text -> (flag: String, values: [String]) in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let key = RunKey.flagged(parts[0]), !parts[1].isEmpty else {
                throw ValidationError("--set: expected a setting's flag name and its values, such as beta=0.1,0.01, got '\(text)'")
            }
            return (key.flag, parts[1].split(separator: ",").map(String.init))
        }
        let listed = try variants.map { text in
            do { return try Sweep.Variant(parsing: text) } catch let error as RunFileError { throw ValidationError(error.description) }
        }
        let grid = Sweep.Variant.grid(axes)
        let combined = (listed.isEmpty ? [Sweep.Variant(settings: [])] : listed).flatMap { variant in
            grid.map { Sweep.Variant(settings: variant.settings + $0.settings) }
        }
        let (base, name) = try settings.settings(dataset: data.dataset)
        let sweep = Sweep(base: base, variants: combined, seeds: try parseSeeds(seeds, flag: "seeds"), folder: URL(fileURLWithPath: output))
        let runs = try sweep.runs()
        if MPIJob.isLeader {
            say("eqprop sweep: \(name), \(runs.count) runs (\(sweep.variants.count) variant\(sweep.variants.count == 1 ? "" : "s") × \(sweep.seeds.count) seeds) into \(output)"
                + (MPIJob.ranks.map { ", over \($0.size) MPI ranks" } ?? ""))
        }
        // On MPI ranks, rank r trains runs r, r + N, r + 2N, …; rank 0 writes the summary once all are done.
        let ranks = MPIJob.ranks
        for (index, run) in runs.enumerated() where ranks.map({ index % $0.size == $0.rank }) ?? true {
            let label = "[\(index + 1)/\(runs.count)] \(run.variant.label), seed \(run.seed)"
            if Sweep.isComplete(run) {
                say("\(label): complete")
                continue
            }
            var training = try trainingRun(run, label: label)
            training.alignmentExamples = alignmentExamples
            try training.train { event in
                switch event {
                case .progress: break
                case let .epoch(record, _):
                    say("\(label): epoch \(record.epoch)/\(run.runFile.specification.learning.training.epochs): "
                        + (record.validationError.map { "validation error \(percent($0)), " } ?? "") + "test error \(percent(record.testError)), "
                        + String(format: "%.1f s", record.seconds))
                case let .warning(warning):
                    FileHandle.standardError.write(Data("eqprop sweep: \(label): warning: \(warning)\n".utf8))
                }
            }
            // Rank 0 alone writes the summary, from every run folder finished so far.
            if MPIJob.isLeader { try sweep.summary().write(to: sweep.folder) }
        }
        try ranks?.barrier()
        guard MPIJob.isLeader else { return }
        let summary = try sweep.summary()
        try summary.write(to: sweep.folder)
        print(summary.markdown, terminator: "")
    }

    /// The run, new or resumed from its folder's checkpoints (which must be of this very run).
    private func trainingRun(_ run: Sweep.Run, label: String) throws -> TrainingRun {
        let folder = try RunFolder(path: run.folder.path, keptCheckpoints: keepCheckpoints)
        let blocks = compute.parallelBlocks(for: run.runFile.specification.learning)
        guard try !folder.checkpointFiles().isEmpty else {
            return try TrainingRun(run.runFile, name: label, data: try data.load(run.runFile.specification.data), trainLimit: data.trainLimit,
                                   folder: folder, parallelBlocks: blocks)
        }
        let (resumed, refused) = try TrainingRun.resuming(folder, parallelBlocks: { _ in blocks }) { specification, trainLimit in
            guard specification == run.runFile.specification, trainLimit == data.trainLimit else {
                throw RunFolderError("\(run.folder.path) holds another run than \(run.variant.label) with seed \(run.seed); move it away or sweep into another --output")
            }
            return try data.load(specification.data, trainLimit: trainLimit)
        }
        for refusal in refused { FileHandle.standardError.write(Data("eqprop sweep: \(refusal); resuming from the previous checkpoint\n".utf8)) }
        say("\(label): resuming after epoch \(resumed.trainer.epochsTrained)")
        return resumed
    }

    private func say(_ line: String) {
        if !quiet { print(line) }
        fflush(nil)
    }
}
