import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import TrainingRuns

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training speed: seconds per epoch, counted FLOPs, and how much of the time the matrix products take.",
        discussion: """
            Trains a run (a run file or a preset, default scellier2017-net1, with any of train's setting flags) on the \
            real data set for --epochs epochs (default 1) and times each one. Every GEMM the epoch performs is \
            counted by shape, so the FLOPs are counted, not estimated. Each shape is then timed alone (one BLAS thread, \
            as in training): their sum is the time the epoch's GEMMs need at their own shapes, and the rest of the \
            epoch is element-wise work, overhead and the products that visit only a mostly zero input's nonzeros \
            (the input's drive and its weight's update on MNIST). The peak is the throughput of a 2048³ single-precision GEMM on \
            as many threads as the run's blocks (--threads), the cores the epoch uses.

            With --relaxation it measures the free phase instead: the first --examples test images relaxed one by one \
            from zero, to the run's tolerance (1e-4 without one) within --cap steps, by gradient descent with the run's \
            ε (0.5 if it has none) and by the exact block minimizer with each --overrelaxations ω, with the run's initial \
            weights or a trained --model's.

            Under `mpirun -np N` it trains the run data-parallel on the ranks and reports the seconds per epoch and the \
            gradient sums' traffic (bytes per batch, seconds in MPI_Allreduce).
            """)

    @OptionGroup var settings: RunOptions
    @OptionGroup var data: DataOptions
    @OptionGroup var compute: ComputeOptions
    @Option(help: ArgumentHelp("Show the products that take the most time, this many (0: none; default: 8).", valueName: "n"))
    var shapes: Int?
    @Flag(help: "Print JSON.") var json = false
    @Option(name: .customLong("variant"),
            help: ArgumentHelp("Time this variant of the run beside it, e.g. 'minimizer=exact-block tolerance=0.001' (repeat for more): "
                               + "the runs' epochs alternate, so the machine's drift falls on each alike.", valueName: "settings"))
    var variants: [String] = []
    @OptionGroup var relaxation: RelaxationBenchOptions

    func validate() throws {
        if let epochs = settings.epochs, (Int(epochs) ?? 0) <= 0 { throw ValidationError("--epochs: expected a positive number of epochs to time, got \(epochs)") }
        if let shapes, shapes < 0 { throw ValidationError("--shapes: expected 0 or a positive number, got \(shapes)") }
        if shapes != nil, !variants.isEmpty { throw ValidationError("--shapes: runs timed side by side (--variant) report no products by shape") }
        try relaxation.refuseUnused(settings: settings, data: data,
                                    trainingBenchFlags: [("--variant", !variants.isEmpty), ("--shapes", shapes != nil)].filter(\.1).map(\.0))
    }

    func run() throws {
        compute.configureBLAS()
        if let ranks = MPIJob.ranks { return try runOnRanks(ranks) }
        if relaxation.relaxation { return try relaxation.run(settings: settings, data: data, json: json) }
        if !variants.isEmpty { return try runSideBySide() }
        let (run, name) = try settings.resolved(dataset: data.dataset)
        // The run's planned epochs set its schedule; the epochs timed are --epochs, else one.
        let epochs = settings.epochs.flatMap { Int($0) } ?? 1
        let learning = run.specification.learning
        let train = try data.load(run.specification.data).training
        let threads = compute.parallelBlocks(for: learning)
        var trainer: Trainer<Float> = try learning.makeTrainer(trainingCount: train.count, parallelBlocks: threads)
        let (seconds, calls) = try GEMMCensus.recording {
            try (0..<epochs).map { _ in
                let watch = Stopwatch()
                _ = try trainer.trainEpoch(on: train)
                return watch.seconds
            }
        }
        let best = seconds.min()!
        // Per epoch: the census covers every timed epoch.
        let products = calls.map { shape, count in
            let secondsPerCall = shape.measuredSecondsPerCall()
            return BenchReport.Product(shape: shape, callsPerEpoch: Double(count) / Double(epochs), secondsPerCall: secondsPerCall)
        }.sorted { $0.secondsPerEpoch > $1.secondsPerEpoch }
        let flops = products.map { $0.callsPerEpoch * $0.shape.flops }.reduce(0, +)
        // With several blocks the products run on that many threads at once.
        let gemmSeconds = products.map(\.secondsPerEpoch).reduce(0, +) / Double(threads)
        let peak = BLAS.withThreadCount(threads) { Self.measuredPeakGFLOPS() }
        let convolutions = products.filter(\.shape.convolution)
        let convolution = convolutions.isEmpty ? nil : BenchReport.ConvolutionShare(
            products: convolutions, threads: threads, epochSeconds: best, peakGFLOPS: peak)
        let report = BenchReport(
            run: name, dataset: run.specification.data.dataset.rawValue, rule: learning.rule.name.rawValue, layers: learning.architecture.layerSizes,
            examples: train.count, secondsPerEpoch: seconds, bestSecondsPerEpoch: best,
            samplesPerSecond: Double(train.count) / best, gflopPerEpoch: flops / 1e9,
            achievedGFLOPS: flops / best / 1e9, peakGFLOPS: peak, fractionOfPeak: flops / best / 1e9 / peak,
            gemmSecondsPerEpoch: gemmSeconds, fractionInGEMM: gemmSeconds / best,
            blasKernel: BLAS.coreName, threads: threads, convolution: convolution, products: Array(products.prefix(shapes ?? 8)))
        if json {
            try printJSON(report)
            return
        }
        print("""
            \(name) (\(learning.architecture.summary), rule \(learning.rule.summary)) on \(train.count) \
            \(report.dataset) examples, BLAS kernel \(report.blasKernel), \(threads) thread\(threads == 1 ? "" : "s")
            seconds per epoch: \(seconds.map { String(format: "%.3f", $0) }.joined(separator: ", ")) (best \(String(format: "%.3f", best)))
            samples per second: \(Int(report.samplesPerSecond))
            GEMM work per epoch (counted): \(String(format: "%.1f", report.gflopPerEpoch)) GFLOP → \(String(format: "%.1f", report.achievedGFLOPS)) GFLOP/s
            measured peak (2048³ SGEMM, \(threads) thread\(threads == 1 ? "" : "s")): \(String(format: "%.1f", peak)) GFLOP/s → \(String(format: "%.0f", 100 * report.fractionOfPeak))% of peak
            the products alone, timed at their shapes: \(String(format: "%.3f", gemmSeconds)) s per epoch = \
            \(String(format: "%.0f", 100 * report.fractionInGEMM))% of the epoch
            """)
        if let convolution {
            print(String(format: "the convolutions' products (one per batch): %.1f GFLOP, %.3f s per epoch at their shapes = %.0f%% of the epoch, "
                         + "%.1f GFLOP/s = %.0f%% of peak (unfolding the patches and transposing the batch not included)",
                         convolution.gflopPerEpoch, convolution.secondsPerEpoch, 100 * convolution.fractionOfEpoch,
                         convolution.gflops, 100 * convolution.fractionOfPeak))
        }
        guard !report.products.isEmpty else { return }
        print("products taking the most time (m×k · k×n, per epoch):")
        for product in report.products {
            let s = product.shape
            print(String(format: "  %5d×%-5d · %5d×%-5d %@%@ %9.0f calls %8.2f GFLOP %7.3f s %6.1f GFLOP/s%@",
                         s.m, s.k, s.k, s.n, s.transposeA ? "Aᵀ" : "  ", s.transposeB ? "Bᵀ" : "  ",
                         product.callsPerEpoch, product.callsPerEpoch * s.flops / 1e9, product.secondsPerEpoch,
                         s.flops / product.secondsPerCall / 1e9, s.convolution ? "  convolution" : ""))
        }
    }

    /// The run and each `--variant` of it, trained epoch by epoch in turn: seconds per epoch, counted
    /// GEMM work, and the steps each phase took.
    private func runSideBySide() throws {
        let (base, name) = try settings.settings(dataset: data.dataset)
        let parsed = try variants.map { text in
            do { return try Sweep.Variant(parsing: text) } catch let error as RunFileError { throw ValidationError(error.description) }
        }
        let runs = try [("as given", try RunFile(settings: base))] + parsed.map { ($0.label, try $0.runFile(over: base)) }
        let epochs = settings.epochs.flatMap { Int($0) } ?? 1
        var trainers: [Trainer<Float>] = []
        var trainingSets: [ClassificationData<Float>] = []
        var threads: [Int] = []
        for (_, runFile) in runs {
            let learning = runFile.specification.learning
            let train = try data.load(runFile.specification.data).training
            threads.append(compute.parallelBlocks(for: learning))
            trainers.append(try learning.makeTrainer(trainingCount: train.count, parallelBlocks: threads.last!))
            trainingSets.append(train)
        }
        var rows = runs.indices.map { index in
            SideBySideReport.Row(label: runs[index].0, dynamics: Self.phases(runs[index].1.specification.learning.dynamics),
                                 examples: trainingSets[index].count, threads: threads[index])
        }
        for _ in 0..<epochs {
            for index in runs.indices {
                let watch = Stopwatch()
                let (measurement, calls) = try GEMMCensus.recording { try trainers[index].trainEpoch(on: trainingSets[index]) }
                rows[index].secondsPerEpoch.append(watch.seconds)
                rows[index].gflopPerEpoch = calls.map { Double($1) * $0.flops }.reduce(0, +) / 1e9
                rows[index].freeSteps.append(measurement.freeSteps)
                rows[index].secondPhaseSteps.append(measurement.secondPhaseSteps)
                rows[index].trainError.append(measurement.error)
            }
        }
        let report = SideBySideReport(run: name, blasKernel: BLAS.coreName, rows: rows)
        if json { return try printJSON(report) }
        print("\(name): \(epochs) epoch\(epochs == 1 ? "" : "s") of each run, in turn; BLAS kernel \(report.blasKernel)")
        print("| run | dynamics | s / epoch | best | GFLOP / epoch | free steps / batch | second phase steps | train error | threads |")
        print("|---|---|---|---|---|---|---|---|---|")
        func list(_ values: [Double], _ format: String) -> String { values.map { String(format: format, $0) }.joined(separator: ", ") }
        for row in rows {
            let secondPhase = row.secondPhaseSteps.map { $0.map { String(format: "%.1f", $0) } ?? "–" }.joined(separator: ", ")
            print("| \(row.label) | \(row.dynamics) | \(list(row.secondsPerEpoch, "%.2f")) | \(String(format: "%.2f", row.secondsPerEpoch.min()!)) | "
                  + "\(String(format: "%.1f", row.gflopPerEpoch)) | \(list(row.freeSteps, "%.1f")) | \(secondPhase) | "
                  + "\(list(row.trainError.map { 100 * $0 }, "%.2f%%")) | \(row.threads) |")
        }
    }

    /// `exact-block, 20/4 steps to 0.001`: the minimizer, the steps of the phases (caps with a tolerance).
    private static func phases(_ dynamics: DynamicsSpecification) -> String {
        "\(dynamics.minimizerSummary), \(dynamics.freeSteps.map(String.init) ?? "feed-forward")/\(dynamics.nudgedSteps) steps"
            + (dynamics.tolerance.map { " to \($0)" } ?? "")
    }

    /// The throughput of a 2048×2048×2048 SGEMM, in GFLOP/s.
    static func measuredPeakGFLOPS() -> Double {
        let shape = GEMMShape(m: 2048, n: 2048, k: 2048, transposeA: false, transposeB: false, scalarSize: MemoryLayout<Float>.size)
        return shape.flops / shape.measuredSecondsPerCall() / 1e9
    }
}

struct BenchReport: Encodable {
    /// The convolutions' products in an epoch, together: their FLOPs, the seconds they take alone
    /// at their shapes (on `threads` threads at once), that time's share of the epoch, and their
    /// throughput against the measured peak.
    struct ConvolutionShare: Encodable {
        var gflopPerEpoch: Double
        var secondsPerEpoch: Double
        var fractionOfEpoch: Double
        var gflops: Double
        var fractionOfPeak: Double

        init(products: [Product], threads: Int, epochSeconds: Double, peakGFLOPS: Double) {
            gflopPerEpoch = products.map { $0.callsPerEpoch * $0.shape.flops }.reduce(0, +) / 1e9
            secondsPerEpoch = products.map(\.secondsPerEpoch).reduce(0, +) / Double(threads)
            fractionOfEpoch = secondsPerEpoch / epochSeconds
            gflops = gflopPerEpoch / secondsPerEpoch
            fractionOfPeak = gflops / peakGFLOPS
        }

        enum CodingKeys: String, CodingKey {
            case gflopPerEpoch = "gflop_per_epoch", secondsPerEpoch = "seconds_per_epoch", fractionOfEpoch = "fraction_of_epoch"
            case gflops, fractionOfPeak = "fraction_of_peak"
        }
    }

    /// The products of one shape in an epoch.
    struct Product: Encodable {
        var shape: GEMMShape
        var callsPerEpoch: Double
        var secondsPerCall: Double
        var secondsPerEpoch: Double

        init(shape: GEMMShape, callsPerEpoch: Double, secondsPerCall: Double) {
            self.shape = shape
            self.callsPerEpoch = callsPerEpoch
            self.secondsPerCall = secondsPerCall
            secondsPerEpoch = callsPerEpoch * secondsPerCall
        }

        enum CodingKeys: String, CodingKey {
            case shape, callsPerEpoch = "calls_per_epoch", secondsPerCall = "seconds_per_call", secondsPerEpoch = "seconds_per_epoch"
        }
    }

    var run: String
    var dataset: String
    var rule: String
    var layers: [Int]
    var examples: Int
    var secondsPerEpoch: [Double]
    var bestSecondsPerEpoch: Double
    var samplesPerSecond: Double
    var gflopPerEpoch: Double
    var achievedGFLOPS: Double
    var peakGFLOPS: Double
    var fractionOfPeak: Double
    var gemmSecondsPerEpoch: Double
    var fractionInGEMM: Double
    var blasKernel: String
    var threads: Int
    /// `nil` for a network without convolutions.
    var convolution: ConvolutionShare?
    var products: [Product]

    enum CodingKeys: String, CodingKey {
        case run, dataset, rule, layers, examples, threads, convolution, products
        case secondsPerEpoch = "seconds_per_epoch", bestSecondsPerEpoch = "best_seconds_per_epoch"
        case samplesPerSecond = "samples_per_second", gflopPerEpoch = "gflop_per_epoch"
        case achievedGFLOPS = "achieved_gflops", peakGFLOPS = "peak_gflops", fractionOfPeak = "fraction_of_peak"
        case gemmSecondsPerEpoch = "gemm_seconds_per_epoch", fractionInGEMM = "fraction_in_gemm"
        case blasKernel = "blas_kernel"
    }
}

/// Runs timed side by side (`bench --variant`), epoch by epoch in turn.
struct SideBySideReport: Encodable {
    struct Row: Encodable {
        var label: String
        var dynamics: String
        var examples: Int
        var threads: Int
        var secondsPerEpoch: [Double] = []
        var gflopPerEpoch = 0.0
        /// Mean steps of the free phase per batch, each epoch.
        var freeSteps: [Double] = []
        /// Mean steps per second-phase relaxation, each epoch (`nil` where not recorded).
        var secondPhaseSteps: [Double?] = []
        /// The error at the free fixed points during each epoch.
        var trainError: [Double] = []

        enum CodingKeys: String, CodingKey {
            case label, dynamics, examples, threads
            case secondsPerEpoch = "seconds_per_epoch", gflopPerEpoch = "gflop_per_epoch", freeSteps = "free_steps_per_batch"
            case secondPhaseSteps = "second_phase_steps", trainError = "train_error"
        }
    }

    var run: String
    var blasKernel: String
    var rows: [Row]

    enum CodingKeys: String, CodingKey { case run, rows, blasKernel = "blas_kernel" }
}
