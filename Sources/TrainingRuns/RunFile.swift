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
/// rule:
///   name: ep                   # ep, stdp, chl, cpl, pc, pc-nudge, bp, tbp, rbp
///   beta: 1.0
///   nudging: random            # positive, negative, centered or random
/// training:
///   epochs: 25
///   batch-size: 20
///   learning-rates: [0.2, 0.1]
/// ```
///
/// Every key is named like the `eqprop train` flag that overrides it (``RunKey``). Unknown keys,
/// missing required keys, duplicated keys, values of the wrong type and settings that the run does
/// not use are errors that name the key and its line. The presets are run files too (``presets``).
public struct RunFile: Sendable, Equatable {
    public var specification: RunSpecification
    /// The run folder, if the file names one.
    public var output: String?

    public init(specification: RunSpecification, output: String? = nil) {
        self.specification = specification
        self.output = output
    }

    /// Reads the run file at `path`.
    public init(contentsOf path: String) throws {
        try self.init(settings: Self.settings(contentsOf: path))
    }

    /// Parses a run file's text; `file` names it in errors.
    public init(yaml text: String, file: String) throws {
        try self.init(settings: Self.settings(yaml: text, file: file))
    }

    /// The run that `settings` describe.
    public init(settings: RunSettings) throws {
        specification = try RunSpecification(settings: settings)
        output = try settings.optional("output")
    }

    /// This run as a run file, which ``init(yaml:file:)`` reads back to the same run.
    public var yaml: String { specification.yaml(output: output) }

    /// The settings of the run file at `path`, untyped.
    public static func settings(contentsOf path: String) throws -> RunSettings {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunFileError(file: path, line: nil, message: "cannot read the run file (no such file, or not readable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RunFileError(file: path, line: nil, message: "not UTF-8 text; expected a YAML run file")
        }
        return try settings(yaml: text, file: path)
    }

    /// The settings of a run file's text, untyped: every key checked against ``RunKey/all`` (and, for
    /// a run of an earlier version that ``LegacyRunFile`` converts, its keys that are gone).
    public static func settings(yaml text: String, file: String, acceptingLegacyKeys: Bool = false) throws -> RunSettings {
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
        var settings = RunSettings(source: file)
        for (key, value) in try mapping(root, path: "", file: file, keys: RunKey.topLevel) {
            if let section = RunKey.sections.first(where: { $0.name == key }) {
                settings.sectionLines[section.name] = value.mark?.line
                let legacy = acceptingLegacyKeys ? LegacyRunFile.keys.filter { $0.hasPrefix(section.name + ".") }.map { String($0.dropFirst(section.name.count + 1)) } : []
                for (name, item) in try mapping(value, path: section.name, file: file, keys: section.keys + legacy) {
                    settings.entries["\(section.name).\(name)"] = RunSettings.Setting(value: SettingValue(item), origin: .file(file, line: item.mark?.line))
                }
            } else {
                settings.entries[key] = RunSettings.Setting(value: SettingValue(value), origin: .file(file, line: value.mark?.line))
            }
        }
        return settings
    }

    /// The pairs of a mapping, every key one of `keys`.
    private static func mapping(_ node: Node, path: String, file: String, keys allowed: [String]) throws -> [(key: String, value: Node)] {
        let name = path.isEmpty ? "the run file" : path
        guard case let .mapping(mapping) = node else {
            throw RunFileError(file: file, line: node.mark?.line, message: "\(name): expected a mapping of keys to values")
        }
        return try mapping.map { key, value in
            guard case let .scalar(scalar) = key else { throw RunFileError(file: file, line: key.mark?.line, message: "\(name): expected plain keys") }
            let qualified = path.isEmpty ? scalar.string : "\(path).\(scalar.string)"
            guard allowed.contains(scalar.string) else {
                let hint = LegacyRunFile.hint(forUnknownKey: qualified).map { " (\($0))" } ?? ""
                throw RunFileError(file: file, line: key.mark?.line,
                                   message: "unknown key '\(qualified)'; expected one of \(allowed.joined(separator: ", "))\(hint)")
            }
            return (scalar.string, value)
        }
    }
}

extension RunFile {
    /// The presets' run files, in the package (`Sources/TrainingRuns/Presets/NAME.yaml`).
    private static let presetTexts: [String: [UInt8]] = [
        "scellier2017-net1": PackageResources.scellier2017_net1_yaml,
        "scellier2017-net2": PackageResources.scellier2017_net2_yaml,
        "scellier2017-net3": PackageResources.scellier2017_net3_yaml,
        "scellier2017-net1-fast": PackageResources.scellier2017_net1_fast_yaml,
        "scellier2017-net2-fast": PackageResources.scellier2017_net2_fast_yaml,
        "scellier2017-net3-fast": PackageResources.scellier2017_net3_fast_yaml,
        "scellier2017-net2-fast-shift": PackageResources.scellier2017_net2_fast_shift_yaml,
        "scellier2017-net3-fast-shift": PackageResources.scellier2017_net3_fast_shift_yaml,
        "family-mlp": PackageResources.family_mlp_yaml,
        "family-mlp-fashion": PackageResources.family_mlp_fashion_yaml,
        "pcx-mlp": PackageResources.pcx_mlp_yaml,
        "pcx-mlp-fashion": PackageResources.pcx_mlp_fashion_yaml,
        "conv-mnist": PackageResources.conv_mnist_yaml,
        "conv-mnist-32-64-shift": PackageResources.conv_mnist_32_64_shift_yaml,
        "conv-fashion-mnist": PackageResources.conv_fashion_mnist_yaml,
        "conv-fashion-mnist-pc": PackageResources.conv_fashion_mnist_pc_yaml,
    ]

    /// The presets by name.
    public static let presets: [String: RunFile] = Dictionary(uniqueKeysWithValues: presetTexts.keys.map { name in
        // The presets are tested to parse; a failure here is a broken package.
        (name, try! RunFile(settings: presetSettings(name)))
    })

    /// The settings of the preset called `name`, or an error listing the presets.
    public static func presetSettings(_ name: String) throws -> RunSettings {
        guard let bytes = presetTexts[name] else {
            throw RunFileError(file: "--preset", line: nil,
                               message: "unknown preset '\(name)'; expected one of \(presetTexts.keys.sorted().joined(separator: ", "))")
        }
        return try settings(yaml: String(decoding: bytes, as: UTF8.self), file: "preset \(name)")
    }
}

/// A run file that cannot be used: the file (or the flag) and the line (when known), and what was
/// expected.
public struct RunFileError: Error, Equatable, CustomStringConvertible {
    /// The run file, or the flag (`--epochs`) that gave the setting.
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

