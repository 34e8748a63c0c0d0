import ArgumentParser
import Datasets
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import TrainingRuns

struct DataOptions: ParsableArguments {
    @Option(help: "Data set: mnist or fashion-mnist (default: the run file's, else mnist).")
    var dataset: DatasetName?

    @Option(help: ArgumentHelp("Folder holding the data sets (default: $EQPROP_DATA, else ~/.cache/eqprop/data).", valueName: "dir"))
    var dataDir: String?

    @Flag(help: "Never download missing files.")
    var offline = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Use only the first N training examples (for quick runs).", valueName: "N"))
    var trainLimit: Int?

    func validate() throws {
        if let trainLimit, trainLimit <= 0 {
            throw ValidationError("--train-limit: expected a positive number of examples, got \(trainLimit)")
        }
    }

    /// The training, validation and test sets of `data` from `--data-dir` (`--dataset` overrides its
    /// data set), the first `trainLimit` (else `--train-limit`) training examples when set. A
    /// validation split as large as the training file is refused by its key, `validation: …`, which
    /// names the flag and the run-file key alike.
    func load(_ data: DataSpecification, trainLimit: Int? = nil) throws -> DataSplits {
        var data = data
        if let dataset { data.dataset = dataset }
        return try data.load(from: DataDirectory.resolve(flag: dataDir), download: !offline, trainLimit: trainLimit ?? self.trainLimit)
    }
}

extension DatasetName: ExpressibleByArgument {}

struct ComputeOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Blocks of examples relaxed in parallel, one per thread (default: automatic).", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads: expected at least 1, got \(threads)") }
    }

    /// The number of parallel blocks for `configuration`: `--threads`, else every core when a
    /// relaxation step has enough work between free layers to pay for the threads (at least
    /// 100,000 multiply-adds per example and step), else one. Measured on 2 cores: net1
    /// (5,000 multiply-adds per step) 2.27 s per epoch on one block, 2.85 s on two; net2
    /// (255,000) 6.9 s per 3,000 examples on one, 5.15 s on two.
    /// On MPI ranks, the cores are shared among the ranks on the machine.
    func parallelBlocks(for learning: LearningSpecification) -> Int {
        if let threads { return threads }
        let sizes = learning.architecture.layerSizes.dropFirst()
        let work = zip(sizes, sizes.dropFirst()).map { $0 * $1 }.reduce(0, +)
        let cores = Swift.max(ProcessInfo.processInfo.activeProcessorCount / (MPIJob.group?.localSize ?? 1), 1)
        return work >= 100_000 ? cores : 1
    }

    /// Sets OpenBLAS to one thread per call: the parallelism is over examples, not inside the
    /// small matrix products, where a second BLAS thread costs more than it brings (measured: 3.0 s
    /// per net1 epoch with two BLAS threads, 2.2 s with one).
    func configureBLAS() {
        BLAS.threadCount = 1
    }
}
