import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import TrainingRuns

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training speed: seconds per epoch, FLOPs, and the fraction of the machine's GEMM peak.",
        discussion: """
            Trains the preset on the real data set for --epochs epochs and times each one. FLOPs count the \
            matrix products the trainer performs per example: the input drive x·W₀ once per batch, both \
            directions of every interaction between free layers at every relaxation step, and the weight updates \
            (one GEMM for W₀, whose input side is clamped, two for the others). The peak is measured, as the \
            throughput of a 2048³ single-precision GEMM on all threads.
            """)

    @Option var preset: String = "scellier2017-net1"
    @OptionGroup var data: DataOptions
    @OptionGroup var compute: ComputeOptions
    @Option(parsing: .unconditional, help: "Epochs to time.") var epochs: Int = 1
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        compute.configureBLAS()
        var configuration = try RunFile.preset(preset).configuration
        guard epochs > 0 else { throw ValidationError("--epochs: expected a positive number, got \(epochs)") }
        configuration.epochs = epochs
        let (train, _) = try data.load()
        var trainer = try Trainer<Float>(configuration: configuration, trainingCount: train.count, parallelBlocks: compute.parallelBlocks(for: configuration))
        var seconds: [Double] = []
        for _ in 0..<epochs {
            let start = DispatchTime.now()
            _ = try trainer.trainEpoch(on: train)
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
        }
        let best = seconds.min()!
        let flops = Self.flopsPerExample(configuration) * Double(train.count)
        let peak = BLAS.withThreadCount(ProcessInfo.processInfo.activeProcessorCount) { Self.measuredPeakGFLOPS() }
        let report = BenchReport(
            preset: preset, examples: train.count, secondsPerEpoch: seconds, bestSecondsPerEpoch: best,
            samplesPerSecond: Double(train.count) / best, gflopPerEpoch: flops / 1e9,
            achievedGFLOPS: flops / best / 1e9, peakGFLOPS: peak, fractionOfPeak: flops / best / 1e9 / peak,
            blasKernel: BLAS.coreName, threads: compute.parallelBlocks(for: configuration))
        if json {
            try writeJSON(report, to: "-")
        } else {
            print("""
                \(preset) on \(train.count) examples, BLAS kernel \(report.blasKernel), \(report.threads) threads
                seconds per epoch: \(seconds.map { String(format: "%.3f", $0) }.joined(separator: ", ")) (best \(String(format: "%.3f", best)))
                samples per second: \(Int(report.samplesPerSecond))
                GEMM work per epoch: \(String(format: "%.1f", report.gflopPerEpoch)) GFLOP → \(String(format: "%.1f", report.achievedGFLOPS)) GFLOP/s
                measured peak (2048³ SGEMM): \(String(format: "%.1f", peak)) GFLOP/s → \(String(format: "%.0f", 100 * report.fractionOfPeak))% of peak
                """)
        }
    }

    /// GEMM floating-point operations per training example (see the command's discussion).
    static func flopsPerExample(_ c: TrainingConfiguration) -> Double {
        let sizes = c.layerSizes.map(Double.init)
        let inputDrive = 2 * sizes[0] * sizes[1]
        let hiddenPairs = zip(sizes.dropFirst(), sizes.dropFirst(2)).map { 2 * 2 * $0 * $1 }.reduce(0, +)
        let phases = c.nudging == .symmetric ? 2.0 : 1.0
        let steps = Double(c.freeSteps) + phases * Double(c.nudgedSteps)
        let updates = inputDrive + hiddenPairs
        return inputDrive + steps * hiddenPairs + updates
    }

    /// Best of three 2048×2048×2048 SGEMMs, in GFLOP/s.
    static func measuredPeakGFLOPS() -> Double {
        let n = 2048
        var generator = SeededGenerator(seed: 0)
        let a = Matrix<Float>.uniform(rows: n, columns: n, in: -1...1, using: &generator)
        var c = Matrix<Float>(rows: n, columns: n)
        var best = Double.infinity
        for _ in 0..<3 {
            let start = DispatchTime.now()
            c.multiplyAdd(a, a, beta: 0)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }
}

struct BenchReport: Encodable {
    var preset: String
    var examples: Int
    var secondsPerEpoch: [Double]
    var bestSecondsPerEpoch: Double
    var samplesPerSecond: Double
    var gflopPerEpoch: Double
    var achievedGFLOPS: Double
    var peakGFLOPS: Double
    var fractionOfPeak: Double
    var blasKernel: String
    var threads: Int

    enum CodingKeys: String, CodingKey {
        case preset, examples, threads
        case secondsPerEpoch = "seconds_per_epoch", bestSecondsPerEpoch = "best_seconds_per_epoch"
        case samplesPerSecond = "samples_per_second", gflopPerEpoch = "gflop_per_epoch"
        case achievedGFLOPS = "achieved_gflops", peakGFLOPS = "peak_gflops", fractionOfPeak = "fraction_of_peak"
        case blasKernel = "blas_kernel"
    }
}
