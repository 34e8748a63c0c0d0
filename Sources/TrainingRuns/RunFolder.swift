import EnergyBasedLearning
import Foundation
import LinearAlgebra

/// One epoch's line in `metrics.jsonl` and `metrics.csv`.
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    public var trainError: Double
    /// On the held-out validation set, if any.
    public var validationError: Double?
    public var validationCost: Double?
    /// The training epoch's free phases: mean steps per batch, and the fraction of examples whose
    /// free phase did not reach a fixed point (``Relaxation/unsettledExamples``).
    public var freeSteps: Double?
    public var unsettledFraction: Double?
    /// The free phase's mean steps per example (each example stops once it has settled).
    public var freeExampleSteps: Double?
    /// The rule's second phases in the training epoch: mean steps per relaxation, and the fraction
    /// of the examples relaxed that did not settle.
    public var secondPhaseSteps: Double?
    public var secondPhaseUnsettledFraction: Double?
    public var secondPhaseExampleSteps: Double?
    public var testError: Double
    public var trainCost: Double
    public var testCost: Double
    /// Wall-clock seconds of the epoch's training (the only field that differs between identical runs).
    public var seconds: Double
    public var learningRateFactor: Double
    /// Mean energy `E(s⁰)` per test example at the free fixed point.
    public var testEnergy: Double?
    /// The rule's update against the exact gradient after the epoch (``Trainer/alignment(specification:on:examples:)``).
    public var alignmentCosine: Double?
    public var alignmentRelativeError: Double?

    public init(epoch: Int, trainError: Double, testError: Double, trainCost: Double, testCost: Double, seconds: Double, learningRateFactor: Double,
                testEnergy: Double? = nil, alignment: GradientComparison? = nil) {
        self.epoch = epoch
        self.trainError = trainError
        self.testError = testError
        self.trainCost = trainCost
        self.testCost = testCost
        self.seconds = seconds
        self.learningRateFactor = learningRateFactor
        self.testEnergy = testEnergy
        alignmentCosine = alignment?.cosine
        alignmentRelativeError = alignment?.relativeError
    }

    enum CodingKeys: String, CodingKey {
        case epoch, trainError = "train_error", validationError = "validation_error", validationCost = "validation_cost"
        case freeSteps = "free_steps", unsettledFraction = "unsettled_fraction"
        case secondPhaseSteps = "second_phase_steps", secondPhaseUnsettledFraction = "second_phase_unsettled_fraction"
        case freeExampleSteps = "free_example_steps", secondPhaseExampleSteps = "second_phase_example_steps"
        case testError = "test_error", trainCost = "train_cost", testCost = "test_cost"
        case seconds, learningRateFactor = "learning_rate_factor", testEnergy = "test_energy"
        case alignmentCosine = "alignment_cosine", alignmentRelativeError = "alignment_relative_error"
    }

    public static let csvHeader = "epoch,train_error,test_error,train_cost,test_cost,seconds,learning_rate_factor,test_energy,alignment_cosine,alignment_relative_error,validation_error,validation_cost,free_steps,unsettled_fraction,second_phase_steps,second_phase_unsettled_fraction,free_example_steps,second_phase_example_steps"
    public var csvLine: String {
        let optionals = [testEnergy, alignmentCosine, alignmentRelativeError, validationError, validationCost, freeSteps, unsettledFraction,
                         secondPhaseSteps, secondPhaseUnsettledFraction, freeExampleSteps, secondPhaseExampleSteps]
            .map { $0.map { "\($0)" } ?? "" }
        return (["\(epoch)", "\(trainError)", "\(testError)", "\(trainCost)", "\(testCost)", "\(seconds)", "\(learningRateFactor)"] + optionals)
            .joined(separator: ",")
    }
}

extension EpochRecord {
    /// A warning when the last epoch of `history` looks like a collapse, which no NaN reveals: the
    /// test error back above 50% after an epoch below 25%, or the rule's update no longer pointing
    /// along the exact gradient (cosine ≤ 0). Both were seen when explicit-Euler inference became
    /// unstable as the weights grew (see the README); `stableSteps` picks the advice.
    public static func collapseWarning(_ history: [EpochRecord], stableSteps: Bool) -> String? {
        guard let last = history.last else { return nil }
        var signs: [String] = []
        if last.testError > 0.5, let best = history.dropLast().map(\.testError).min(), best < 0.25 {
            signs.append(String(format: "the test error rose to %.2f%% after reaching %.2f%%", 100 * last.testError, 100 * best))
        }
        if let cosine = last.alignmentCosine, cosine <= 0 {
            signs.append(String(format: "the rule's update points away from the exact gradient (cosine %.3f)", cosine))
        }
        guard !signs.isEmpty else { return nil }
        let advice = stableSteps ? "try a smaller --epsilon or learning rate"
                                 : "--stable-steps caps the inference steps by the energy's curvature; a smaller --epsilon also helps"
        return "epoch \(last.epoch): the run may have collapsed: " + signs.joined(separator: "; ") + ". " + advice
    }
}

/// The summary of a run after its latest epoch (`metrics.json`, and `eqprop train --metrics-json`):
/// the last epoch, and, with a validation set, the epoch chosen on it (the lowest validation error,
/// the earliest of equals) with its test error.
public struct TrainingMetrics: Codable, Sendable {
    /// The run's name: its preset or run file.
    public var name: String
    public var dataset: String
    /// The run, when it was described by one (`nil` for a run composed in code).
    public var run: RunSpecification?
    /// Epochs completed.
    public var epochs: Int
    public var trainError: Double
    public var testError: Double
    public var trainCost: Double
    public var testCost: Double
    /// The epoch with the lowest validation error, its validation and test errors (`nil` without a validation set).
    public var selectedEpoch: Int?
    public var selectedValidationError: Double?
    public var selectedTestError: Double?
    public var secondsPerEpoch: Double
    public var samplesPerSecond: Double
    public var blasKernel: String

    /// The summary of `history`, a run over `trainingExamples` examples per epoch.
    public init(name: String, dataset: String, run: RunSpecification?, history: [EpochRecord], trainingExamples: Int, blasKernel: String) {
        let seconds = history.map(\.seconds).reduce(0, +)
        let last = history.last
        let selected = history.filter { $0.validationError != nil }.min { $0.validationError! < $1.validationError! }
        self.name = name
        self.dataset = dataset
        self.run = run
        epochs = history.count
        trainError = last?.trainError ?? 1
        testError = last?.testError ?? 1
        trainCost = last?.trainCost ?? 0
        testCost = last?.testCost ?? 0
        selectedEpoch = selected?.epoch
        selectedValidationError = selected?.validationError
        selectedTestError = selected?.testError
        secondsPerEpoch = seconds / Double(Swift.max(history.count, 1))
        samplesPerSecond = seconds > 0 ? Double(trainingExamples * history.count) / seconds : 0
        self.blasKernel = blasKernel
    }

    enum CodingKeys: String, CodingKey {
        case name, dataset, run, epochs
        case trainError = "train_error", testError = "test_error", trainCost = "train_cost", testCost = "test_cost"
        case selectedEpoch = "selected_epoch", selectedValidationError = "selected_validation_error", selectedTestError = "selected_test_error"
        case secondsPerEpoch = "seconds_per_epoch", samplesPerSecond = "samples_per_second", blasKernel = "blas_kernel"
    }
}

/// The folder of a training run (`eqprop train --output DIR`):
///
/// - for a run described by a run file: `run.yaml` (`eqprop train DIR/run.yaml` runs it again) and
///   `configuration.json`, the same run as JSON;
/// - after every epoch: `metrics.jsonl` and `metrics.csv` (one line per epoch), `metrics.json` (the
///   summary), `model/` (NumPy `.npy` files) and `checkpoints/epoch-NNNN.npz`, of which the last
///   `keptCheckpoints` stay.
///
/// Every file is written by ``AtomicFile``, so a run killed at any moment leaves only complete files.
public struct RunFolder: Sendable {
    public let url: URL
    public var keptCheckpoints: Int

    public var checkpoints: URL { url.appendingPathComponent("checkpoints") }

    /// Opens (creating it if needed) the run folder at `path`; `flag` names the option it came from in errors.
    public init(path: String, keptCheckpoints: Int = 3, flag: String = "--output") throws {
        url = URL(fileURLWithPath: path)
        self.keptCheckpoints = keptCheckpoints
        do {
            try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        } catch {
            throw RunFolderError("\(flag): cannot create the run folder \(path): \(error.localizedDescription)")
        }
    }

    /// Writes the run's description.
    public func start(_ run: RunFile) throws {
        try AtomicFile.write(Data(run.yaml.utf8), to: url.appendingPathComponent("run.yaml"))
        try AtomicFile.write(prettyJSON(run.specification), to: url.appendingPathComponent("configuration.json"))
    }

    /// Writes the metrics, the model and a checkpoint after an epoch; the checkpoint comes last,
    /// so a run resumed from it rewrites anything written after it.
    public func record(_ history: [EpochRecord], metrics: TrainingMetrics, checkpoint: Checkpoint, energy: LayeredEnergy<Float>) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let lines = try history.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: url.appendingPathComponent("metrics.jsonl"))
        let csv = ([EpochRecord.csvHeader] + history.map(\.csvLine)).joined(separator: "\n") + "\n"
        try AtomicFile.write(Data(csv.utf8), to: url.appendingPathComponent("metrics.csv"))
        try AtomicFile.write(prettyJSON(metrics), to: url.appendingPathComponent("metrics.json"))
        try ModelArchive.save(energy, run: metrics.run, to: url.appendingPathComponent("model"))
        try AtomicFile.write(checkpoint.npz(),
                            to: checkpoints.appendingPathComponent(String(format: "epoch-%04d.npz", checkpoint.metadata.epoch)))
        for old in try checkpointFiles().dropLast(keptCheckpoints) { try FileManager.default.removeItem(at: old) }
    }

    /// The checkpoint files, oldest first.
    public func checkpointFiles() throws -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
        return names.filter { $0.hasPrefix("epoch-") && $0.hasSuffix(".npz") }.sorted().map { checkpoints.appendingPathComponent($0) }
    }

    /// The per-epoch records of the run in `folder`: its `metrics.jsonl`, or else its `metrics.csv`
    /// (all that `docs/runs` keeps of a run).
    public static func history(in folder: String) throws -> [EpochRecord] {
        let url = URL(fileURLWithPath: folder)
        let jsonLines = url.appendingPathComponent("metrics.jsonl").path, csv = url.appendingPathComponent("metrics.csv").path
        let (records, path): ([EpochRecord], String)
        if let data = FileManager.default.contents(atPath: jsonLines) {
            (records, path) = (try history(jsonLines: String(decoding: data, as: UTF8.self), path: jsonLines), jsonLines)
        } else if let data = FileManager.default.contents(atPath: csv) {
            (records, path) = (try history(csv: String(decoding: data, as: UTF8.self), path: csv), csv)
        } else {
            throw RunFolderError("\(jsonLines): no such file, nor metrics.csv; expected the folder of an `eqprop train --output DIR` run")
        }
        guard !records.isEmpty else { throw RunFolderError("\(path): no epochs recorded yet") }
        return records
    }

    private static func history(jsonLines text: String, path: String) throws -> [EpochRecord] {
        try text.split(separator: "\n", omittingEmptySubsequences: true).enumerated().map { number, line in
            do {
                return try JSONDecoder().decode(EpochRecord.self, from: Data(line.utf8))
            } catch {
                throw RunFolderError("\(path):\(number + 1): expected an epoch record {\"epoch\", \"train_error\", \"test_error\", …}, got '\(line.prefix(80))'")
            }
        }
    }

    /// The lines of `metrics.csv` under its header (any subset of ``EpochRecord/csvHeader``'s columns,
    /// in any order; an empty field is a quantity not measured), read through the same keys as
    /// `metrics.jsonl`.
    private static func history(csv text: String, path: String) throws -> [EpochRecord] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false) else { return [] }
        return try lines.dropFirst().enumerated().map { number, line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            let members = zip(header, fields).filter { !$1.isEmpty }.map { "\"\($0)\":\($1)" }
            do {
                guard fields.count == header.count, fields.allSatisfy({ $0.isEmpty || Double($0)?.isFinite == true }) else { throw RunFolderError("") }
                return try JSONDecoder().decode(EpochRecord.self, from: Data(("{" + members.joined(separator: ",") + "}").utf8))
            } catch {
                throw RunFolderError("\(path):\(number + 2): expected \(header.count) numbers under the header (epoch, train_error, test_error, …), "
                                     + "got '\(line.prefix(80))'")
            }
        }
    }
}

public struct RunFolderError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

func prettyJSON<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(value) + Data([0x0a])
}
