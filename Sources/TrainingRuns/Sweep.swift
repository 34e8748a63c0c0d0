import Foundation

/// Runs of one run file over variants of its settings and over seeds, each run in its own run
/// folder under one folder, and the summary of each variant over the seeds (mean ± standard
/// deviation): what a comparison needs to rest on more than one seed.
///
/// A variant is a set of settings given as flags would give them (`rule=pc-nudge lambda=0.1`); a grid
/// (`rule=ep,cpl` × `beta=0.1,0.01`) is the product of its values. Every run is resolved, and so
/// checked, before any trains. A run whose folder holds all its epochs is done; one with checkpoints
/// is resumed; so a sweep that stops continues where it stopped.
public struct Sweep: Sendable {
    /// One variant: its settings (`flag` and text, as on the command line) and its label.
    public struct Variant: Sendable, Equatable {
        public var settings: [Setting]
        public struct Setting: Sendable, Equatable {
            public var flag: String
            public var text: String
            public init(flag: String, text: String) {
                self.flag = flag
                self.text = text
            }
        }

        public init(settings: [Setting]) { self.settings = settings }

        /// `rule=pc-nudge lambda=0.1`; `base` for no settings.
        public var label: String { settings.isEmpty ? "base" : settings.map { "\($0.flag)=\($0.text)" }.joined(separator: " ") }

        /// The label as a folder name: `rule-pc-nudge_lambda-0.1`.
        public var folderName: String {
            guard !settings.isEmpty else { return "base" }
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-"))
            return settings.map { setting in
                "\(setting.flag)-\(setting.text)".unicodeScalars.map { allowed.contains($0) ? String($0) : "-" }.joined()
            }.joined(separator: "_")
        }

        /// A variant from `flag=text` words: `rule=pc-nudge lambda=0.1`.
        public init(parsing text: String) throws {
            settings = try text.split(whereSeparator: \.isWhitespace).map { word in
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[1].isEmpty, let key = RunKey.flagged(parts[0].trimmingCharacters(in: ["-"])) else {
                    throw RunFileError(file: "--variant", line: nil,
                                       message: "expected settings such as 'rule=pc-nudge lambda=0.1', each a flag's name and its value, got '\(word)'")
                }
                return Setting(flag: key.flag, text: parts[1])
            }
        }

        /// The run `base` describes with this variant's settings, then `extra` (flag and text), over it;
        /// an error names the variant.
        public func runFile(over base: RunSettings, then extra: [(flag: String, text: String)] = []) throws -> RunFile {
            var overrides = RunSettings(source: "--variant \(label)")
            for setting in settings.map({ ($0.flag, $0.text) }) + extra { overrides.set(RunKey.flagged(setting.0)!, fromFlag: setting.1) }
            do {
                return try RunFile(settings: base.overriding(with: overrides))
            } catch let error as RunFileError where !settings.isEmpty {
                throw RunFileError(file: "variant '\(label)'", line: nil, message: error.description)
            }
        }

        /// The variants of a grid: every combination of one value per setting (`beta` → `0.1,0.01`).
        public static func grid(_ axes: [(flag: String, values: [String])]) -> [Variant] {
            axes.reduce([Variant(settings: [])]) { variants, axis in
                variants.flatMap { variant in axis.values.map { Variant(settings: variant.settings + [Setting(flag: axis.flag, text: $0)]) } }
            }
        }
    }

    /// One run of the sweep.
    public struct Run: Sendable {
        public var variant: Variant
        public var seed: UInt64
        public var runFile: RunFile
        /// `FOLDER/<variant>/seed-<seed>`.
        public var folder: URL
    }

    /// The run file's (or preset's) settings, with the flags common to every run applied.
    public var base: RunSettings
    public var variants: [Variant]
    public var seeds: [UInt64]
    public var folder: URL

    public init(base: RunSettings, variants: [Variant], seeds: [UInt64], folder: URL) {
        self.base = base
        self.variants = variants.isEmpty ? [Variant(settings: [])] : variants
        self.seeds = seeds
        self.folder = folder
    }

    /// Every run, each resolved (and so checked) from its settings: variant by variant, seed by seed.
    public func runs() throws -> [Run] {
        try variants.flatMap { variant in
            try seeds.map { seed in
                let runFolder = folder.appendingPathComponent(variant.folderName).appendingPathComponent("seed-\(seed)")
                let runFile = try variant.runFile(over: base, then: [("seed", "\(seed)"), ("output", runFolder.path)])
                return Run(variant: variant, seed: seed, runFile: runFile, folder: runFolder)
            }
        }
    }

    /// Whether a run's folder holds every epoch it plans.
    public static func isComplete(_ run: Run) -> Bool {
        let planned = run.runFile.specification.learning.training.epochs
        return ((try? RunFolder.history(in: run.folder.path))?.count ?? 0) >= planned
    }

    /// Mean ± standard deviation over the seeds of each variant, from the runs' `metrics.jsonl`
    /// (runs not started yet are left out; each row counts the seeds it has).
    public func summary() throws -> SweepSummary {
        let runs = try runs()
        return SweepSummary(rows: variants.map { variant in
            let histories = runs.filter { $0.variant == variant }.compactMap { run -> (UInt64, [EpochRecord])? in
                (try? RunFolder.history(in: run.folder.path)).map { (run.seed, $0) }
            }
            return SweepSummary.Row(variant: variant.label, seeds: histories.map(\.0),
                                    metrics: histories.map { TrainingMetrics(name: variant.label, dataset: "", run: nil, history: $0.1,
                                                                            trainingExamples: 0, blasKernel: "") })
        })
    }
}

/// Each variant of a sweep over its seeds.
public struct SweepSummary: Sendable, Encodable {
    public struct Row: Sendable, Encodable {
        public var variant: String
        public var seeds: [UInt64]
        public var epochs: [Int]
        /// Test error at the epoch chosen on validation, at the last epoch; validation error at the
        /// chosen epoch; training error at the last epoch (each over the seeds).
        public var selectedTestError: Statistic?
        public var lastTestError: Statistic?
        public var selectedValidationError: Statistic?
        public var trainError: Statistic?
        public var selectedEpoch: Statistic?
        public var secondsPerEpoch: Statistic?

        init(variant: String, seeds: [UInt64], metrics: [TrainingMetrics]) {
            self.variant = variant
            self.seeds = seeds
            epochs = metrics.map(\.epochs)
            selectedTestError = Statistic(metrics.compactMap(\.selectedTestError))
            lastTestError = Statistic(metrics.map(\.testError))
            selectedValidationError = Statistic(metrics.compactMap(\.selectedValidationError))
            trainError = Statistic(metrics.map(\.trainError))
            selectedEpoch = Statistic(metrics.compactMap { $0.selectedEpoch.map(Double.init) })
            secondsPerEpoch = Statistic(metrics.map(\.secondsPerEpoch))
        }

        enum CodingKeys: String, CodingKey {
            case variant, seeds, epochs, selectedTestError = "selected_test_error", lastTestError = "last_test_error"
            case selectedValidationError = "selected_validation_error", trainError = "train_error", selectedEpoch = "selected_epoch"
            case secondsPerEpoch = "seconds_per_epoch"
        }
    }

    /// Mean and sample standard deviation of a few values (`nil` for none; the deviation `nil` for one).
    public struct Statistic: Sendable, Encodable, Equatable {
        public var mean: Double
        public var standardDeviation: Double?
        public var count: Int

        public init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            count = values.count
            mean = values.reduce(0, +) / Double(values.count)
            standardDeviation = values.count > 1
                ? (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot() : nil
        }

        /// `1.23 ± 0.04`, scaled by `factor` (100 for percentages).
        public func formatted(_ factor: Double = 100, digits: Int = 2) -> String {
            String(format: "%.\(digits)f", factor * mean) + (standardDeviation.map { String(format: " ± %.\(digits)f", factor * $0) } ?? "")
        }

        enum CodingKeys: String, CodingKey { case mean, standardDeviation = "sd", count }
    }

    public var rows: [Row]

    /// The table in Markdown: errors in percent, mean ± standard deviation over the seeds.
    public var markdown: String {
        let header = "| variant | seeds | test error at the epoch chosen on validation (%) | test error, last epoch (%) | validation error (%) | train error, last epoch (%) | chosen epoch | s / epoch |\n|---|---|---|---|---|---|---|---|\n"
        return header + rows.map { row in
            let cells = [row.variant, row.seeds.map(String.init).joined(separator: ", "),
                         row.selectedTestError?.formatted() ?? "–", row.lastTestError?.formatted() ?? "–",
                         row.selectedValidationError?.formatted() ?? "–", row.trainError?.formatted() ?? "–",
                         row.selectedEpoch?.formatted(1, digits: 1) ?? "–", row.secondsPerEpoch?.formatted(1, digits: 1) ?? "–"]
            return "| " + cells.joined(separator: " | ") + " |"
        }.joined(separator: "\n") + "\n"
    }

    /// One line per variant and statistic, for spreadsheets: `variant,statistic,mean,sd,count`.
    public var csv: String {
        var lines = ["variant,statistic,mean,sd,count"]
        for row in rows {
            for (name, statistic) in [("selected_test_error", row.selectedTestError), ("last_test_error", row.lastTestError),
                                      ("selected_validation_error", row.selectedValidationError), ("train_error", row.trainError),
                                      ("selected_epoch", row.selectedEpoch), ("seconds_per_epoch", row.secondsPerEpoch)] {
                guard let statistic else { continue }
                let label = row.variant.contains(",") || row.variant.contains("\"") ? "\"\(row.variant.replacingOccurrences(of: "\"", with: "\"\""))\"" : row.variant
                lines.append("\(label),\(name),\(statistic.mean),\(statistic.standardDeviation.map { "\($0)" } ?? ""),\(statistic.count)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `summary.md`, `summary.csv` and `summary.json` into `folder`.
    public func write(to folder: URL) throws {
        try AtomicFile.write(Data(markdown.utf8), to: folder.appendingPathComponent("summary.md"))
        try AtomicFile.write(Data(csv.utf8), to: folder.appendingPathComponent("summary.csv"))
        try AtomicFile.write(prettyJSON(self), to: folder.appendingPathComponent("summary.json"))
    }
}
