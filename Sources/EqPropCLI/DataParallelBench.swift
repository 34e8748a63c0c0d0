import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import MessagePassing
import TrainingRuns

extension Bench {
    /// Under `mpirun -np N`: the run trained data-parallel on the ranks (each batch split among
    /// them), each epoch timed between barriers; rank 0 reports the seconds per epoch and what the
    /// gradient sums moved: bytes per batch (each rank's contribution to `MPI_Allreduce`) and the
    /// seconds rank 0 spent in them, waiting for the slower rank included.
    func runOnRanks(_ ranks: MPIProcessGroup) throws {
        if relaxation.relaxation { throw ValidationError("--relaxation: relaxes examples one by one in one process; run it without mpirun") }
        if !variants.isEmpty { throw ValidationError("--variant: side-by-side runs are timed in one process; time each run under mpirun on its own") }
        let (run, name) = try settings.resolved(dataset: data.dataset)
        let learning = run.specification.learning
        try MPIJob.requireDataParallel(learning)
        let epochs = settings.epochs.flatMap { Int($0) } ?? 1
        let train = try data.load(run.specification.data).training
        let threads = compute.parallelBlocks(for: learning)
        var trainer: Trainer<Float> = try learning.makeTrainer(trainingCount: train.count, parallelBlocks: threads)
        trainer.group = ranks
        var seconds: [Double] = [], traffic: [MPIProcessGroup.Traffic] = []
        for _ in 0..<epochs {
            try ranks.barrier()
            _ = MPIProcessGroup.takeTraffic()
            let watch = Stopwatch()
            _ = try trainer.trainEpoch(on: train)
            seconds.append(watch.seconds)
            traffic.append(MPIProcessGroup.takeTraffic())
        }
        guard ranks.rank == 0 else { return }
        let batches = (train.count + learning.training.batchSize - 1) / learning.training.batchSize
        let best = seconds.min()!
        let parameters = trainer.energy.parameters.joined().map(\.count).reduce(0, +)
        let report = RanksBenchReport(
            run: name, layers: learning.architecture.summary, ranks: ranks.size, threadsPerRank: threads, examples: train.count,
            batchSize: learning.training.batchSize, secondsPerEpoch: seconds, bestSecondsPerEpoch: best, samplesPerSecond: Double(train.count) / best,
            allreduceBytesPerBatch: parameters * MemoryLayout<Float>.size, allreduceCallsPerEpoch: traffic[0].calls,
            allreduceSecondsPerEpoch: traffic.map(\.seconds), blasKernel: BLAS.coreName)
        if json { return try printJSON(report) }
        print("""
            \(name) (\(report.layers)) on \(train.count) examples, \(ranks.size) MPI ranks × \(threads) thread\(threads == 1 ? "" : "s"), \
            batch \(report.batchSize) split among them, BLAS kernel \(report.blasKernel)
            seconds per epoch: \(seconds.map { String(format: "%.3f", $0) }.joined(separator: ", ")) (best \(String(format: "%.3f", best)))
            samples per second: \(Int(report.samplesPerSecond))
            gradient sums: \(batches) batches × \(report.allreduceBytesPerBatch) bytes per rank; \
            rank 0 in MPI_Allreduce \(report.allreduceSecondsPerEpoch.map { String(format: "%.3f", $0) }.joined(separator: ", ")) s per epoch \
            (waiting for the slower rank included)
            """)
    }
}

struct RanksBenchReport: Encodable {
    var run: String
    var layers: String
    var ranks: Int
    var threadsPerRank: Int
    var examples: Int
    var batchSize: Int
    var secondsPerEpoch: [Double]
    var bestSecondsPerEpoch: Double
    var samplesPerSecond: Double
    var allreduceBytesPerBatch: Int
    var allreduceCallsPerEpoch: Int
    var allreduceSecondsPerEpoch: [Double]
    var blasKernel: String

    enum CodingKeys: String, CodingKey {
        case run, layers, ranks, threadsPerRank = "threads_per_rank", examples, batchSize = "batch_size", secondsPerEpoch = "seconds_per_epoch"
        case bestSecondsPerEpoch = "best_seconds_per_epoch", samplesPerSecond = "samples_per_second"
        case allreduceBytesPerBatch = "allreduce_bytes_per_batch", allreduceCallsPerEpoch = "allreduce_calls_per_epoch"
        case allreduceSecondsPerEpoch = "allreduce_seconds_per_epoch", blasKernel = "blas_kernel"
    }
}
