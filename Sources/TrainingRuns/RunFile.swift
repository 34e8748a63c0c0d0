import Datasets
import EnergyBasedLearning
import Foundation
import Yams

/// A training run described by a YAML file: the data set, the network, its energy and dynamics,
/// the learning rule, the training hyperparameters, the seed and (optionally) the run folder.
///
/// ```yaml
/// dataset: mnist
/// seed: 1
/// output: runs/net1            # optional; `--output DIR` overrides it
/// architecture:
///   layers: [784, 500, 10]
/// energy:
///   kind: hopfield             # or pc, with hidden-activation and output-activation
/// dynamics:
///   epsilon: 0.5
///   free-steps: 20
///   nudged-steps: 4
///   stable-steps: false        # cap steps by the energy's curvature
/// rule:
///   name: ep                   # ep, ep-symmetric, stdp, chl, pc, pc-nudge, bp
///   beta: 1.0
///   random-sign: true
/// training:
///   epochs: 25
///   batch-size: 20
///   learning-rates: [0.2, 0.1]
/// ```
///
/// Every key is named like the `eqprop train` flag that overrides it. Unknown keys, missing
/// required keys, duplicated keys and values of the wrong type are errors that name the key and
/// its line. The presets are run files too (``presets``).
public struct RunFile: Sendable, Equatable {
    public var configuration: TrainingConfiguration
    public var dataset: DatasetName
    /// The run folder, if the file names one.
    public var output: String?

    public init(configuration: TrainingConfiguration, dataset: DatasetName = .mnist, output: String? = nil) {
        self.configuration = configuration
        self.dataset = dataset
        self.output = output
    }

    /// Reads the run file at `path`.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunFileError(file: path, line: nil, message: "cannot read the run file (no such file, or not readable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RunFileError(file: path, line: nil, message: "not UTF-8 text; expected a YAML run file")
        }
        try self.init(yaml: text, file: path)
    }

    /// Parses a run file's text; `file` names it in errors.
    public init(yaml text: String, file: String) throws {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            // The parser gives the mapping's position; the line of interest is the key's second occurrence.
            let indentation = String(repeating: " ", count: context.mark.column - 1)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let repeated = lines.indices.dropFirst(context.mark.line - 1)
                .filter { lines[$0].hasPrefix(indentation + (duplicates.first ?? "") + ":") }.dropFirst().first
            throw RunFileError(file: file, line: repeated.map { $0 + 1 } ?? context.mark.line,
                               message: duplicates.map { "'\($0)'" }.joined(separator: ", ") + " appears twice in one mapping")
        } catch let error as YamlError {
            throw RunFileError(file: file, line: error.line, message: "not valid YAML: \(error.problem)")
        } catch {
            throw RunFileError(file: file, line: nil, message: "not valid YAML: \(error)")
        }
        guard let root else { throw RunFileError(file: file, line: nil, message: "empty; expected a run file (see `eqprop train --help`)") }
        // Every section's keys are checked first; then values are read in the order of the file's
        // sections, so the first problem in the file is the one reported.
        let top = try Section(root, path: "", file: file, keys: Self.topKeys + Self.sections.map(\.name))
        let architecture = try top.optionalSection("architecture")
        let energy = try top.optionalSection("energy")
        let dynamics = try top.optionalSection("dynamics")
        let rule = try top.optionalSection("rule")
        let training = try top.optionalSection("training")

        let dataset: DatasetName = try top.optional("dataset") ?? .mnist
        let seed: UInt64 = try top.required("seed")
        let output: String? = try top.optional("output")
        let pixels: PixelScaling? = try top.optional("pixels")
        let layers: [Int] = try top.present(architecture, "architecture").required("layers")
        let energyKind: TrainingConfiguration.EnergyKind? = try energy?.optional("kind")
        let hidden: Activation? = try energy?.optional("hidden-activation")
        let outputActivation: Activation? = try energy?.optional("output-activation")
        let stepSize: Double = try top.present(dynamics, "dynamics").required("epsilon")
        let freeSteps: Int = try top.present(dynamics, "dynamics").required("free-steps")
        let nudgedSteps: Int = try top.present(dynamics, "dynamics").required("nudged-steps")
        let noise: Double? = try dynamics?.optional("noise")
        let stableSteps: Bool? = try dynamics?.optional("stable-steps")
        let ruleName: RuleName = try top.present(rule, "rule").required("name")
        let beta: Double = try top.present(rule, "rule").required("beta")
        let randomSign: Bool? = try rule?.optional("random-sign")
        let nudging: Nudging? = try rule?.optional("nudging")
        let persistentParticles: Bool? = try rule?.optional("persistent-particles")
        let stdpForm: STDPForm? = try rule?.optional("stdp-form")
        let epochs: Int = try top.present(training, "training").required("epochs")
        let batchSize: Int = try top.present(training, "training").required("batch-size")
        let learningRates: [Double] = try top.present(training, "training").required("learning-rates")
        let optimizer: OptimizerName? = try training?.optional("optimizer")
        let schedule: LearningRateSchedule? = try training?.optional("schedule")
        let weightDecay: Double? = try training?.optional("weight-decay")
        let cost: CostName? = try training?.optional("cost")

        var c = TrainingConfiguration(
            layerSizes: layers, epochs: epochs, batchSize: batchSize, freeSteps: freeSteps, nudgedSteps: nudgedSteps,
            stepSize: stepSize, beta: beta, learningRates: learningRates, randomSign: randomSign ?? false,
            nudging: nudging ?? (ruleName == .epSymmetric ? .symmetric : .oneSided),
            persistentParticles: persistentParticles ?? false, seed: seed)
        c.rule = ruleName.rule
        c.stdpForm = stdpForm ?? c.stdpForm
        c.noise = noise ?? c.noise
        c.stableSteps = stableSteps ?? c.stableSteps
        c.energy = energyKind ?? c.energy
        c.hidden = hidden ?? c.hidden
        c.output = outputActivation ?? c.output
        c.cost = cost ?? c.cost
        c.optimizer = optimizer ?? c.optimizer
        c.schedule = schedule ?? c.schedule
        c.weightDecay = weightDecay ?? c.weightDecay
        c.pixels = pixels ?? c.pixels
        if ruleName == .epSymmetric, c.nudging != .symmetric {
            throw RunFileError(file: file, line: rule?.line(of: "nudging"), message: "rule.nudging: ep-symmetric nudges symmetrically, got one-sided")
        }
        do {
            try c.validate()
        } catch let error as ConfigurationError {
            throw RunFileError(file: file, line: top.line(ofFlag: error.setting),
                               message: "\(RunFile.key(ofFlag: error.setting)): expected \(error.expected), got \(error.value)")
        }
        self.init(configuration: c, dataset: dataset, output: output)
    }

    /// This run as a run file, which ``init(yaml:file:)`` reads back to the same run.
    public var yaml: String {
        let c = configuration
        func list<T>(_ values: [T]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
        var lines = ["dataset: \(dataset.rawValue)", "pixels: \(c.pixels.rawValue)", "seed: \(c.seed)"]
        // A JSON string is a double-quoted YAML scalar.
        if let output, let quoted = try? JSONEncoder.withoutEscapingSlashes.encode(output) { lines.append("output: \(String(decoding: quoted, as: UTF8.self))") }
        lines += ["architecture:", "  layers: \(list(c.layerSizes))",
                  "energy:", "  kind: \(c.energy.rawValue)"]
        if c.energy == .pc {
            lines += ["  hidden-activation: \(c.hidden.rawValue)", "  output-activation: \(c.output.rawValue)"]
        }
        lines += ["dynamics:", "  epsilon: \(c.stepSize)", "  free-steps: \(c.freeSteps)", "  nudged-steps: \(c.nudgedSteps)",
                  "  noise: \(c.noise)", "  stable-steps: \(c.stableSteps)",
                  "rule:", "  name: \(c.rule.rawValue)", "  beta: \(c.beta)", "  random-sign: \(c.randomSign)",
                  "  nudging: \(c.nudging.rawValue)", "  persistent-particles: \(c.persistentParticles)"]
        if c.rule == .stdp { lines.append("  stdp-form: \(c.stdpForm.rawValue)") }
        lines += ["training:", "  epochs: \(c.epochs)", "  batch-size: \(c.batchSize)",
                  "  learning-rates: \(list(c.learningRates))", "  optimizer: \(c.optimizer.rawValue)",
                  "  schedule: \(c.schedule.rawValue)", "  weight-decay: \(c.weightDecay)", "  cost: \(c.cost.rawValue)"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The keys outside any section.
    static let topKeys = ["dataset", "pixels", "seed", "output"]

    /// Each section and its keys. A key is named like the `eqprop train` flag that overrides it,
    /// but for `energy.kind` (`--energy`) and `rule.name` (`--rule`).
    static let sections: [(name: String, keys: [String])] = [
        ("architecture", ["layers"]),
        ("energy", ["kind", "hidden-activation", "output-activation"]),
        ("dynamics", ["epsilon", "free-steps", "nudged-steps", "noise", "stable-steps"]),
        ("rule", ["name", "beta", "random-sign", "nudging", "persistent-particles", "stdp-form"]),
        ("training", ["epochs", "batch-size", "learning-rates", "optimizer", "schedule", "weight-decay", "cost"]),
    ]

    /// The run-file key (`section.key`) set by the `eqprop train` flag `--flag`.
    static func key(ofFlag flag: String) -> String {
        if flag == "energy" { return "energy.kind" }
        return sections.first { $0.keys.contains(flag) }.map { "\($0.name).\(flag)" } ?? flag
    }
}

extension RunFile {
    /// The presets, each a run file in the package (`Sources/TrainingRuns/Presets/NAME.yaml`).
    public static let presets: [String: RunFile] = {
        let files: [(String, [UInt8])] = [
            ("scellier2017-net1", PackageResources.scellier2017_net1_yaml),
            ("scellier2017-net2", PackageResources.scellier2017_net2_yaml),
            ("scellier2017-net3", PackageResources.scellier2017_net3_yaml),
            ("family-mlp", PackageResources.family_mlp_yaml),
            ("family-mlp-fashion", PackageResources.family_mlp_fashion_yaml),
        ]
        return Dictionary(uniqueKeysWithValues: files.map { name, bytes in
            // The presets are tested to parse; a failure here is a broken package.
            (name, try! RunFile(yaml: String(decoding: bytes, as: UTF8.self), file: "Presets/\(name).yaml"))
        })
    }()

    /// The preset called `name`, or an error listing the presets.
    public static func preset(_ name: String) throws -> RunFile {
        guard let preset = presets[name] else {
            throw RunFileError(file: "--preset", line: nil,
                               message: "unknown preset '\(name)'; expected one of \(presets.keys.sorted().joined(separator: ", "))")
        }
        return preset
    }
}

/// The rules as run files and the command line name them (`ep-symmetric` is EP with symmetric nudging).
public enum RuleName: String, Sendable, CaseIterable {
    case ep, epSymmetric = "ep-symmetric", stdp, chl, pc, pcNudge = "pc-nudge", bp

    public var rule: TrainingConfiguration.Rule {
        switch self {
        case .ep, .epSymmetric: .ep
        case .stdp: .stdp
        case .chl: .chl
        case .pc: .pc
        case .pcNudge: .pcNudge
        case .bp: .bp
        }
    }
}

/// A run file that cannot be used: the file, the line (when known) and what was expected.
public struct RunFileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

extension YamlError {
    var line: Int? {
        switch self {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _): mark.line
        default: nil
        }
    }

    var problem: String {
        switch self {
        case let .scanner(context, problem, _, _), let .parser(context, problem, _, _), let .composer(context, problem, _, _):
            (context.map { "\($0.text) " } ?? "") + problem
        case let .reader(problem, _, _, _): problem
        default: "\(self)"
        }
    }
}

extension JSONEncoder {
    static var withoutEscapingSlashes: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }
}

/// One mapping of a run file, read key by key; every value read is checked for its type.
struct Section {
    let path: String
    let file: String
    let line: Int?
    private let values: [String: Node]

    init(_ node: Node, path: String, file: String, keys allowed: [String]) throws {
        self.path = path
        self.file = file
        line = node.mark?.line
        let name = path.isEmpty ? "the run file" : path
        guard case let .mapping(mapping) = node else {
            throw RunFileError(file: file, line: node.mark?.line, message: "\(name): expected a mapping of keys to values")
        }
        var values: [String: Node] = [:]
        for (key, value) in mapping {
            guard case let .scalar(scalar) = key else {
                throw RunFileError(file: file, line: key.mark?.line, message: "\(name): expected plain keys")
            }
            let qualified = path.isEmpty ? scalar.string : "\(path).\(scalar.string)"
            guard allowed.contains(scalar.string) else {
                throw RunFileError(file: file, line: key.mark?.line,
                                   message: "unknown key '\(qualified)'; expected one of \(allowed.joined(separator: ", "))")
            }
            values[scalar.string] = value
        }
        self.values = values
    }

    private func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func line(of key: String) -> Int? { values[key]?.mark?.line ?? line }

    /// The line of the key that `--flag` overrides, when it is in this section or one below.
    func line(ofFlag flag: String) -> Int? {
        let parts = RunFile.key(ofFlag: flag).split(separator: ".").map(String.init)
        guard parts.count == 2 else { return line(of: parts[0]) }
        guard let node = values[parts[0]], case let .mapping(mapping) = node else { return line }
        return mapping.first { $0.key.string == parts[1] }?.value.mark?.line ?? node.mark?.line
    }

    /// `section`, the subsection `key` of this one, or an error saying it is missing.
    func present(_ section: Section?, _ key: String) throws -> Section {
        guard let section else { throw RunFileError(file: file, line: line, message: "missing the section '\(qualified(key))'") }
        return section
    }

    /// The section `key` of the run file (see ``RunFile/sections``), if present.
    func optionalSection(_ key: String) throws -> Section? {
        let keys = RunFile.sections.first { $0.name == key }?.keys ?? []
        return try values[key].map { try Section($0, path: qualified(key), file: file, keys: keys) }
    }

    func required<T: RunFileValue>(_ key: String) throws -> T {
        guard let value: T = try optional(key) else {
            throw RunFileError(file: file, line: line, message: "missing the key '\(qualified(key))' (\(T.expectation))")
        }
        return value
    }

    func optional<T: RunFileValue>(_ key: String) throws -> T? {
        guard let node = values[key] else { return nil }
        guard let value = T(node) else {
            let found: String = switch node {
            case let .scalar(scalar): scalar.style == .plain ? "'\(scalar.string)'" : "the quoted string \"\(scalar.string)\""
            case .mapping: "a mapping"
            case .sequence: "a list"
            case .alias: "an alias"
            }
            throw RunFileError(file: file, line: node.mark?.line, message: "'\(qualified(key))': expected \(T.expectation), got \(found)")
        }
        return value
    }
}

/// A type a run-file value can have.
protocol RunFileValue {
    init?(_ node: Node)
    /// What the value must look like, for errors.
    static var expectation: String { get }
}

extension Node {
    /// The text of an unquoted scalar (quoted scalars are strings, never numbers or flags).
    var plainScalar: String? {
        guard case let .scalar(scalar) = self, scalar.style == .plain else { return nil }
        return scalar.string
    }
}

/// Numbers: an unquoted scalar that the type's `init?(_: String)` reads.
protocol NumericRunFileValue: RunFileValue, LosslessStringConvertible {}

extension NumericRunFileValue {
    init?(_ node: Node) {
        guard let text = node.plainScalar, let value = Self(text) else { return nil }
        self = value
    }
}

extension Int: NumericRunFileValue {
    static var expectation: String { "an integer" }
}

extension UInt64: NumericRunFileValue {
    static var expectation: String { "a non-negative integer" }
}

extension Double: NumericRunFileValue {
    static var expectation: String { "a number" }
}

extension Bool: RunFileValue {
    init?(_ node: Node) {
        switch node.plainScalar {
        case "true": self = true
        case "false": self = false
        default: return nil
        }
    }
    static var expectation: String { "true or false" }
}

extension String: RunFileValue {
    init?(_ node: Node) {
        guard case let .scalar(scalar) = node else { return nil }
        self = scalar.string
    }
    static var expectation: String { "a string" }
}

extension Array: RunFileValue where Element: RunFileValue {
    init?(_ node: Node) {
        guard case let .sequence(sequence) = node else { return nil }
        var elements: [Element] = []
        for item in sequence {
            guard let element = Element(item) else { return nil }
            elements.append(element)
        }
        self = elements
    }
    static var expectation: String { "a list such as [1, 2], each \(Element.expectation)" }
}

/// Names from a fixed set (rules, energies, activations, …).
protocol NamedRunFileValue: RunFileValue, RawRepresentable<String>, CaseIterable {}

extension NamedRunFileValue {
    init?(_ node: Node) {
        guard let text = node.plainScalar, let value = Self(rawValue: text) else { return nil }
        self = value
    }
    static var expectation: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
}

extension RuleName: NamedRunFileValue {}
extension DatasetName: NamedRunFileValue {}
extension TrainingConfiguration.EnergyKind: NamedRunFileValue {}
extension Activation: NamedRunFileValue {}
extension Nudging: NamedRunFileValue {}
extension STDPForm: NamedRunFileValue {}
extension CostName: NamedRunFileValue {}
extension OptimizerName: NamedRunFileValue {}
extension LearningRateSchedule: NamedRunFileValue {}
extension PixelScaling: NamedRunFileValue {}
