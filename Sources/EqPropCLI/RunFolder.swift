import EnergyBasedLearning
import Foundation

/// One epoch's line in `metrics.jsonl` and `metrics.csv`.
struct EpochRecord: Codable, Equatable {
    var epoch: Int
    var trainError: Double
    var testError: Double
    var trainCost: Double
    var testCost: Double
    var seconds: Double
    var learningRateFactor: Double

    enum CodingKeys: String, CodingKey {
        case epoch, trainError = "train_error", testError = "test_error", trainCost = "train_cost", testCost = "test_cost"
        case seconds, learningRateFactor = "learning_rate_factor"
    }

    static let csvHeader = "epoch,train_error,test_error,train_cost,test_cost,seconds,learning_rate_factor"
    var csvLine: String { "\(epoch),\(trainError),\(testError),\(trainCost),\(testCost),\(seconds),\(learningRateFactor)" }
}

/// The folder of a training run (`eqprop train --output DIR`): `configuration.json` at the start;
/// after every epoch `metrics.jsonl` and `metrics.csv` (one line per epoch), `metrics.json` (the
/// summary of `--metrics-json`) and `model/`, each written to a temporary file and renamed, so an
/// interrupted run leaves complete files.
struct RunFolder {
    let url: URL

    init(path: String, configuration: TrainingConfiguration) throws {
        url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw RunFolderError("--output: cannot create the run folder \(path): \(error.localizedDescription)")
        }
        try writeJSON(configuration, to: url.appendingPathComponent("configuration.json").path)
    }

    func record(_ history: [EpochRecord], metrics: TrainingMetrics, energy: LayeredEnergy<Float>, configuration: TrainingConfiguration) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let lines = try history.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url.appendingPathComponent("metrics.jsonl"), options: .atomic)
        let csv = ([EpochRecord.csvHeader] + history.map(\.csvLine)).joined(separator: "\n") + "\n"
        try Data(csv.utf8).write(to: url.appendingPathComponent("metrics.csv"), options: .atomic)
        try writeJSON(metrics, to: url.appendingPathComponent("metrics.json").path)
        try ModelArchive.save(energy, configuration: configuration, to: url.appendingPathComponent("model"))
    }

    /// The per-epoch records of the run in `folder`, from its `metrics.jsonl`.
    static func history(in folder: String) throws -> [EpochRecord] {
        let path = URL(fileURLWithPath: folder).appendingPathComponent("metrics.jsonl").path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunFolderError("\(path): no such file; expected the folder of an `eqprop train --output DIR` run")
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        let records = try lines.enumerated().map { number, line in
            do {
                return try JSONDecoder().decode(EpochRecord.self, from: Data(line.utf8))
            } catch {
                throw RunFolderError("\(path):\(number + 1): expected an epoch record {\"epoch\", \"train_error\", \"test_error\", …}, got '\(line.prefix(80))'")
            }
        }
        guard !records.isEmpty else { throw RunFolderError("\(path): no epochs recorded yet") }
        return records
    }
}

struct RunFolderError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What the progress display shows within an epoch: samples/s, the epoch's ETA and the running error.
struct ProgressLine {
    var epoch: Int
    var epochs: Int
    var progress: Trainer<Float>.Progress
    var elapsed: Double

    private var fraction: Double { Double(progress.examplesSeen) / Double(max(progress.examples, 1)) }
    private var rate: Double { Double(progress.examplesSeen) / max(elapsed, 1e-9) }
    private var remaining: Double { Double(progress.examples - progress.examplesSeen) / max(rate, 1e-9) }
    private var details: String {
        "\(progress.examplesSeen)/\(progress.examples), \(Int(rate)) samples/s, ETA \(String(format: "%.0f", remaining)) s, error \(percent(progress.runningError))"
    }

    /// `epoch 3/20 [#########...........] 45% 27000/60000, …`.
    var bar: String {
        let width = 24, filled = Int((fraction * Double(width)).rounded(.down))
        return "epoch \(epoch)/\(epochs) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
            + "\(Int(fraction * 100))% \(details)"
    }

    var plain: String { "  epoch \(epoch)/\(epochs): \(details)" }
}
