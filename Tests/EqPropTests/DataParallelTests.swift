import Dispatch
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing

/// Ranks of a ``ProcessGroup`` as threads of one process: each contribution is exchanged through
/// shared memory and summed in rank order, as MPI's ranks would through `MPI_Allreduce`.
final class SharedExchange: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var contributions: [[UInt64]?]
    private var gathered: [[UInt64]] = []
    private var generation = 0

    init(size: Int) {
        self.size = size
        contributions = Array(repeating: nil, count: size)
    }

    /// Every rank's `values`, in rank order, once every rank has given its own.
    func gather(_ values: [UInt64], rank: Int) -> [[UInt64]] {
        condition.lock()
        defer { condition.unlock() }
        let arrival = generation
        contributions[rank] = values
        if contributions.allSatisfy({ $0 != nil }) {
            gathered = contributions.map { $0! }
            contributions = Array(repeating: nil, count: size)
            generation += 1
            condition.broadcast()
        } else {
            while generation == arrival { condition.wait() }
        }
        return gathered
    }
}

struct ThreadRank: ProcessGroup {
    let rank: Int
    let exchange: SharedExchange
    var size: Int { exchange.size }

    func sum<Scalar: BLASScalar>(_ values: inout [Scalar]) throws {
        let all = exchange.gather(values.map { UInt64(Double($0).bitPattern) }, rank: rank)
        values = (0..<values.count).map { i in all.dropFirst().reduce(Scalar(Double(bitPattern: all[0][i]))) { $0 + Scalar(Double(bitPattern: $1[i])) } }
    }

    func agree(on value: UInt64) throws -> Bool {
        Set(exchange.gather([value], rank: rank).map { $0[0] }).count == 1
    }
}

@Suite("Data-parallel training")
struct DataParallelTests {
    /// One trainer per rank, each built from `specification` (rank 1's with `seed` if given), trained
    /// `epochs` epochs on `data` concurrently; each rank's trainer and its last epoch.
    func trainOnRanks(_ size: Int, _ specification: LearningSpecification, on data: ClassificationData<Float>, epochs: Int,
                      rankOneSeed: UInt64? = nil) throws -> [(trainer: Trainer<Float>, measurement: Trainer<Float>.Measurement)] {
        let exchange = SharedExchange(size: size)
        let results = ResultsBox(count: size)
        // One thread per rank (not `concurrentPerform`, which may run fewer iterations at once than
        // there are ranks, and ranks wait for each other).
        let finished = DispatchGroup()
        for rank in 0..<size {
            finished.enter()
            Thread {
                defer { finished.leave() }
                results.set(rank, Result {
                    var learning = specification
                    if rank == 1, let rankOneSeed { learning.seed = rankOneSeed }
                    var trainer: Trainer<Float> = try learning.makeTrainer(trainingCount: data.count)
                    trainer.group = ThreadRank(rank: rank, exchange: exchange)
                    var last: Trainer<Float>.Measurement?
                    for _ in 0..<epochs { last = try trainer.trainEpoch(on: data) }
                    let evaluated = try trainer.evaluate(on: data, batchSize: 7)
                    #expect(evaluated.examples == data.count)
                    return (trainer, last!)
                })
            }.start()
        }
        finished.wait()
        return try results.values.map { try $0!.get() }
    }

    @Test("Ranks that split every batch stay in step and train as one process relaxing the batch in blocks, up to rounding; with images shifted and mirrored too",
          arguments: [(2, false), (3, false), (2, true), (3, true)])
    func ranksMatchOneProcess(ranks: Int, augmented: Bool) throws {
        // 401 examples in batches of 10: the last batch has one example, so some ranks' shares are empty.
        let data = TrainingTests().synthetic(count: 401, seed: 1)
        var learning = TrainingTests().small()
        if augmented {
            // Each rank draws the whole batch's shifts and mirrors and applies its share's.
            learning.architecture.layers[0] = LayerShape(dimensions: [1, 4, 4])
            (learning.training.randomShift, learning.training.horizontalFlip) = (1, true)
        }
        var alone: Trainer<Float> = try learning.makeTrainer(trainingCount: data.count, parallelBlocks: ranks)
        var last: Trainer<Float>.Measurement?
        for _ in 0..<3 { last = try alone.trainEpoch(on: data) }
        let onRanks = try trainOnRanks(ranks, learning, on: data, epochs: 3)
        for (trainer, measurement) in onRanks {
            #expect(trainer.energy.parameters == onRanks[0].trainer.energy.parameters, "every rank holds the same parameters")
            #expect(measurement == onRanks[0].measurement, "every rank reports the group's totals")
        }
        let difference = zip(alone.energy.parameters.joined(), onRanks[0].trainer.energy.parameters.joined())
            .map { zip($0.elements, $1.elements).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        #expect(difference < 1e-4, "largest parameter difference \(difference)")
        #expect(abs(onRanks[0].measurement.error - last!.error) <= 2.0 / 401)
        #expect(abs(onRanks[0].measurement.cost - last!.cost) <= 1e-3 * last!.cost)
        #expect(onRanks[0].measurement.examples == 401 && onRanks[0].measurement.freeSteps == last!.freeSteps)
    }

    @Test("Ranks whose parameters differ are reported out of step after the epoch")
    func outOfStep() throws {
        let data = TrainingTests().synthetic(count: 40, seed: 1)
        #expect {
            _ = try trainOnRanks(2, TrainingTests().small(), on: data, epochs: 1, rankOneSeed: 2)
        } throws: { error in
            guard case .outOfStep(epoch: 1) = error as? Trainer<Float>.Failure else { return false }
            return "\(error)".contains("different parameters or random generators")
        }
    }

    @Test("A batch's shares are contiguous, near-equal and cover it exactly")
    func shares() {
        for size in 1...5 {
            for count in 0...12 {
                let shares = (0..<size).map { ThreadRank(rank: $0, exchange: SharedExchange(size: size)).share(of: count) }
                #expect(shares.first?.lowerBound == 0 && shares.last?.upperBound == count)
                #expect(zip(shares, shares.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect(shares.map(\.count).max()! - shares.map(\.count).min()! <= 1)
            }
        }
    }
}

/// Results written by concurrent iterations, each to its own slot.
final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<(trainer: Trainer<Float>, measurement: Trainer<Float>.Measurement), Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<(trainer: Trainer<Float>, measurement: Trainer<Float>.Measurement), Error>) {
        lock.withLock { slots[index] = result }
    }

    var values: [Result<(trainer: Trainer<Float>, measurement: Trainer<Float>.Measurement), Error>?] { lock.withLock { slots } }
}
