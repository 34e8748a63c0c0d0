import ArgumentParser
import EnergyBasedLearning
import Foundation
import LinearAlgebra

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a layered network with Equilibrium Propagation or another rule of the family.",
        discussion: """
            Presets carry the settings of Scellier & Bengio (2017): \
            \(TrainingConfiguration.presets.keys.sorted().joined(separator: ", ")). Every setting can be overridden by its flag. \
            With --energy pc the free phase is the feed-forward pass, --nudged-steps and --epsilon are the inference steps and \
            rate, and --beta is the rule's nudge (λ for pc-nudge, the output precision π_L for pc).
            """)

    /// The rules as the command line names them (`ep-symmetric` is EP with symmetric nudging).
    enum RuleName: String, ExpressibleByArgument, CaseIterable {
        case ep, epSymmetric = "ep-symmetric", stdp, chl, pc, pcNudge = "pc-nudge", bp
    }

    @Option(help: "Start from a preset.")
    var preset: String = "scellier2017-net1"

    @OptionGroup var data: DataOptions
    @OptionGroup var compute: ComputeOptions

    @Option(help: ArgumentHelp("Layer sizes, input first, e.g. 784,500,10.", valueName: "sizes"))
    var layers: String?
    @Option(parsing: .unconditional) var epochs: Int?
    @Option(parsing: .unconditional) var batchSize: Int?
    @Option(parsing: .unconditional, help: "Steps of the free phase.") var freeSteps: Int?
    @Option(parsing: .unconditional, help: "Steps of each nudged phase.") var nudgedSteps: Int?
    @Option(parsing: .unconditional, help: "Step size ε of the dynamics.") var epsilon: Double?
    @Option(parsing: .unconditional, help: "Nudging strength β for the cost ½‖y − d‖² (the rule's nudge).") var beta: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Learning rates, one per weight matrix, e.g. 0.2,0.1.", valueName: "rates"))
    var learningRates: String?
    @Flag(inversion: .prefixedNo, help: "Draw the sign of β at random for each batch.")
    var randomSign: Bool?
    @Flag(help: "Symmetric nudging with +β and −β (Laborieux et al. 2021).")
    var symmetric = false
    @Option(help: "Learning rule: ep, ep-symmetric, stdp (the rate-based STDP rule, online in the nudged phase), chl, pc, pc-nudge, bp.")
    var rule: RuleName?
    @Option(help: "Energy: hopfield or pc (predictive coding).")
    var energy: TrainingConfiguration.EnergyKind?
    @Option(help: "Output cost: squared-error or cross-entropy (of the softmax).")
    var cost: CostName?
    @Option(help: "Optimizer: sgd or adam; the learning rates are its step sizes α_k.")
    var optimizer: OptimizerName?
    @Option(help: "Learning-rate schedule: constant or cosine (annealed to zero over the epochs).")
    var schedule: LearningRateSchedule?
    @Option(name: .customLong("hidden-activation"), help: "With --energy pc: activation of the hidden layers.")
    var hiddenActivation: Activation?
    @Option(name: .customLong("output-activation"), help: "With --energy pc: activation of the output layer.")
    var outputActivation: Activation?
    @Option(help: "With --rule stdp: symmetric or postsynaptic.")
    var stdpForm: STDPForm?
    @Option(parsing: .unconditional, help: "Langevin noise level σ in the nudged phase.")
    var noise: Double?
    @Flag(inversion: .prefixedNo, help: "Start each free phase from the example's last fixed point.")
    var persistentParticles: Bool?
    @Option(parsing: .unconditional) var seed: UInt64?

    @Option(help: ArgumentHelp("Write the metrics as JSON to this file, rewritten after every epoch.", valueName: "path"))
    var metricsJson: String?
    @Option(help: ArgumentHelp(
        "Run folder: configuration.json, per-epoch metrics.jsonl and metrics.csv, metrics.json and the model, written after every epoch (draw them with `eqprop plot DIR`).",
        valueName: "dir"))
    var output: String?
    @Flag(help: "Print nothing but errors.") var quiet = false
    @Option(help: ArgumentHelp("Save the model into this folder after every epoch (NumPy .npy files).", valueName: "dir"))
    var saveModel: String?

    func validate() throws {
        guard TrainingConfiguration.presets[preset] != nil else {
            throw ValidationError("--preset: unknown preset '\(preset)'; expected one of \(TrainingConfiguration.presets.keys.sorted().joined(separator: ", "))")
        }
    }

    /// The preset with the flags applied.
    func resolvedConfiguration() throws -> TrainingConfiguration {
        var c = TrainingConfiguration.presets[preset]!
        if let layers { c.layerSizes = try parseList(layers, flag: "layers") }
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let freeSteps { c.freeSteps = freeSteps }
        if let nudgedSteps { c.nudgedSteps = nudgedSteps }
        if let epsilon { c.stepSize = epsilon }
        if let beta { c.beta = beta }
        if let learningRates { c.learningRates = try parseList(learningRates, flag: "learning-rates") }
        if let randomSign { c.randomSign = randomSign }
        if symmetric { c.nudging = .symmetric }
        if let rule {
            c.rule = switch rule {
            case .ep, .epSymmetric: .ep
            case .stdp: .stdp
            case .chl: .chl
            case .pc: .pc
            case .pcNudge: .pcNudge
            case .bp: .bp
            }
            if rule == .epSymmetric { c.nudging = .symmetric }
        }
        if let energy { c.energy = energy }
        if let hiddenActivation { c.hidden = hiddenActivation }
        if let cost { c.cost = cost }
        if let optimizer { c.optimizer = optimizer }
        if let schedule { c.schedule = schedule }
        if let outputActivation { c.output = outputActivation }
        if let stdpForm { c.stdpForm = stdpForm }
        if let noise { c.noise = noise }
        if let persistentParticles { c.persistentParticles = persistentParticles }
        if let seed { c.seed = seed }
        try c.validate()
        return c
    }

    func run() throws {
        compute.configureBLAS()
        let configuration = try resolvedConfiguration()
        let (train, test) = try data.load()
        guard train.inputs.columns == configuration.layerSizes.first, train.targets.columns == configuration.layerSizes.last else {
            throw ValidationError("--layers: the data has \(train.inputs.columns) inputs and \(train.targets.columns) classes, the network \(configuration.layerSizes)")
        }
        var trainer = try Trainer<Float>(configuration: configuration, trainingCount: train.count, parallelBlocks: compute.parallelBlocks(for: configuration))
        let runFolder = try output.map { try RunFolder(path: $0, configuration: configuration) }
        var history: [EpochRecord] = []
        func say(_ line: String) {
            if !quiet { print(line) }
        }
        say("eqprop train: \(preset) \(configuration.layerSizes.map(String.init).joined(separator: "-")) on \(data.dataset.rawValue) "
              + "(\(train.count) train, \(test.count) test), batch \(configuration.batchSize), steps \(configuration.freeSteps)/\(configuration.nudgedSteps), "
              + "\(configuration.energy.rawValue) energy, rule \(configuration.rule.rawValue), ε \(configuration.stepSize), β \(configuration.beta)\(configuration.randomSign ? " (random sign)" : ""), \(configuration.nudging.rawValue), "
              + "\(configuration.optimizer.rawValue) rates (\(configuration.schedule.rawValue)) \(configuration.learningRates), seed \(configuration.seed), BLAS kernel \(BLAS.coreName)")
        var trainingSeconds = 0.0
        let terminal = isatty(STDOUT_FILENO) != 0 && !quiet
        for epoch in stride(from: 1, through: configuration.epochs, by: 1) {
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
                try ModelArchive.save(trainer.energy, configuration: configuration, to: URL(fileURLWithPath: saveModel))
            }
            let metrics = TrainingMetrics(
                preset: preset, dataset: data.dataset.rawValue, configuration: configuration, epochs: epoch,
                trainError: trainMeasurement.error, testError: testMeasurement.error,
                trainCost: trainMeasurement.cost, testCost: testMeasurement.cost,
                secondsPerEpoch: trainingSeconds / Double(epoch),
                samplesPerSecond: Double(train.count * epoch) / trainingSeconds,
                blasKernel: BLAS.coreName)
            if let metricsJson { try writeJSON(metrics, to: metricsJson) }
            if let runFolder {
                history.append(EpochRecord(epoch: epoch, trainError: trainMeasurement.error, testError: testMeasurement.error,
                                           trainCost: trainMeasurement.cost, testCost: testMeasurement.cost, seconds: seconds,
                                           learningRateFactor: learningRateFactor))
                try runFolder.record(history, metrics: metrics, energy: trainer.energy, configuration: configuration)
            }
        }
    }
}

/// The object written by `--metrics-json`, rewritten after every epoch (`epochs` is the number
/// of epochs completed), so an interrupted run keeps its figures.
struct TrainingMetrics: Codable {
    var preset: String
    var dataset: String
    var configuration: TrainingConfiguration
    var epochs: Int
    var trainError: Double
    var testError: Double
    var trainCost: Double
    var testCost: Double
    var secondsPerEpoch: Double
    var samplesPerSecond: Double
    var blasKernel: String

    enum CodingKeys: String, CodingKey {
        case preset, dataset, configuration, epochs
        case trainError = "train_error", testError = "test_error", trainCost = "train_cost", testCost = "test_cost"
        case secondsPerEpoch = "seconds_per_epoch", samplesPerSecond = "samples_per_second", blasKernel = "blas_kernel"
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

/// Writes `value` as pretty JSON to `path` atomically; `-` writes to standard output.
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    var data = try encoder.encode(value)
    data.append(0x0a)
    if path == "-" {
        FileHandle.standardOutput.write(data)
    } else {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension TrainingConfiguration.EnergyKind: ExpressibleByArgument {}
extension OptimizerName: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}
