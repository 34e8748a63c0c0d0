import Datasets
import EnergyBasedLearning
import Yams

/// A run's settings before they are typed: each run-file key (``RunKey``) with its value as
/// written and where it came from, a run file's line or a command-line flag, so that every error
/// names the file and line, or the flag, it concerns.
public struct RunSettings: Sendable {
    /// One value and its origin.
    public struct Setting: Sendable, Equatable {
        public var value: SettingValue
        public var origin: SettingOrigin
    }

    var entries: [String: Setting] = [:]
    /// Where a key that no setting gives is reported: the run file (or preset) and each section's line.
    var source: String
    var sectionLines: [String: Int] = [:]

    /// No settings yet; `source` names the run file they will come from.
    public init(source: String) { self.source = source }

    public subscript(key: String) -> Setting? { entries[key] }

    /// The keys given.
    public var keys: Set<String> { Set(entries.keys) }

    /// Sets `key` from its command-line flag's text: a list's items are separated by commas.
    public mutating func set(_ key: RunKey, fromFlag text: String) {
        let value: SettingValue = key.isList
            ? .list(text.split(separator: ",", omittingEmptySubsequences: false).map { .scalar($0.trimmingCharacters(in: .whitespaces), plain: true) })
            : .scalar(text, plain: true)
        entries[key.key] = Setting(value: value, origin: .flag(key.flag))
    }

    /// These settings with `overrides` applied. A rule, an energy or a minimizer named by an override
    /// replaces the file's, and the file's settings that belong to the replaced one go with it: `--rule
    /// ep` on a run file for `pc` drops its `rule.output-precision`, keeps nothing that `ep` does not
    /// take, and keeps what it does (`rule.beta`, `rule.nudging`); `--minimizer exact-block` drops the
    /// file's `epsilon` and `stable-steps`, unless the second phase still uses gradient descent
    /// (`nudged-minimizer`).
    public func overriding(with overrides: RunSettings) -> RunSettings {
        var merged = self
        if let rule = overrides["rule.name"], rule.value != self["rule.name"]?.value {
            let taken = rule.value.plainText.flatMap(RuleName.init(rawValue:))?.settings ?? []
            for key in merged.entries.keys where key.hasPrefix("rule.") && key != "rule.name" && !taken.contains(String(key.dropFirst(5))) {
                merged.entries[key] = nil
            }
        }
        if let energy = overrides["energy.kind"], energy.value != self["energy.kind"]?.value,
           let kind = energy.value.plainText.flatMap(EnergySpecification.Kind.init(rawValue:)) {
            for key in Self.ownedSettings.filter({ $0.kind != kind }).map(\.key) { merged.entries[key] = nil }
        }
        if let minimizer = overrides["dynamics.minimizer"], minimizer.value != self["dynamics.minimizer"]?.value,
           let kind = minimizer.value.plainText.flatMap(DynamicsSpecification.Minimizer.init(rawValue:)) {
            // The settings of a minimizer that neither phase uses any more go.
            let second = (overrides["dynamics.nudged-minimizer"] ?? self["dynamics.nudged-minimizer"])?.value.plainText
                .flatMap(DynamicsSpecification.Minimizer.init(rawValue:)) ?? kind
            let used: Set = [kind, second]
            if !used.contains(.gradientDescent) { merged.entries["dynamics.epsilon"] = nil; merged.entries["dynamics.stable-steps"] = nil }
            if !used.contains(.exactBlock) { merged.entries["dynamics.overrelaxation"] = nil }
        }
        merged.entries.merge(overrides.entries) { $1 }
        return merged
    }

    /// Settings that only one energy takes.
    private static let ownedSettings: [(key: String, kind: EnergySpecification.Kind)] = [
        ("energy.hidden-activation", .pc), ("energy.output-activation", .pc),
        ("dynamics.free-steps", .hopfield), ("dynamics.persistent-particles", .hopfield),
    ]

    /// An error about `key`, placed at its origin: `file:line: key: message`, `--flag: message`, or, for
    /// a key no setting gives (a default), the run file and its section's line.
    func error(_ key: String, _ message: String) -> RunFileError {
        switch entries[key]?.origin {
        case let .file(path, line)?: RunFileError(file: path, line: line, message: "\(key): \(message)")
        case let .flag(flag)?: RunFileError(file: "--\(flag)", line: nil, message: message)
        case nil: RunFileError(file: source, line: sectionLine(of: key), message: "\(key) (not given): \(message)")
        }
    }

    /// The line of the section that holds `key`, if known.
    private func sectionLine(of key: String) -> Int? { sectionLines[RunKey.named(key)?.section ?? ""] }

    /// The value of `key`, if given; an error names the key, the value and what was expected.
    func optional<T: RunValue>(_ key: String) throws -> T? {
        guard let setting = entries[key] else { return nil }
        guard let value = T(setting.value) else {
            let hint = setting.value.plainText.flatMap { LegacyRunFile.hint(for: key, value: $0) }.map { "; \($0)" } ?? ""
            let expected = "expected \(T.expectation), got \(setting.value.description)\(hint)"
            switch setting.origin {
            case let .file(path, line): throw RunFileError(file: path, line: line, message: "'\(key)': \(expected)")
            case let .flag(flag): throw RunFileError(file: "--\(flag)", line: nil, message: expected)
            }
        }
        return value
    }

    /// The value of `key`; an error if it is missing or not of type `T`.
    func required<T: RunValue>(_ key: String) throws -> T {
        guard let value: T = try optional(key) else {
            let flag = RunKey.named(key).map { "; --\($0.flag) sets it" } ?? ""
            throw RunFileError(file: source, line: sectionLine(of: key), message: "missing the key '\(key)' (\(T.expectation))\(flag)")
        }
        return value
    }

    /// Refuses `key` if given: `message` says why it does not apply.
    func refuse(_ key: String, because message: String) throws {
        if entries[key] != nil { throw error(key, message) }
    }
}

/// A setting's value as written, before it is typed.
public enum SettingValue: Sendable, Equatable, CustomStringConvertible {
    /// A scalar; `plain` unless quoted in YAML (a quoted scalar is a string, never a number or a flag).
    case scalar(String, plain: Bool)
    case list([SettingValue])
    /// Anything else a YAML file can hold (a mapping, an alias), named for errors.
    case other(String)

    /// The text of a plain scalar.
    public var plainText: String? {
        if case let .scalar(text, true) = self { return text }
        return nil
    }

    public var description: String {
        switch self {
        case let .scalar(text, plain): plain ? "'\(text)'" : "the quoted string \"\(text)\""
        case .list: "a list"
        case let .other(kind): kind
        }
    }

    /// A YAML node's value.
    init(_ node: Node) {
        switch node {
        case let .scalar(scalar): self = .scalar(scalar.string, plain: scalar.style == .plain)
        case let .sequence(sequence): self = .list(sequence.map(SettingValue.init))
        case .mapping: self = .other("a mapping")
        case .alias: self = .other("an alias")
        }
    }
}

/// Where a setting came from.
public enum SettingOrigin: Sendable, Equatable {
    /// A run file (or a preset) and the line.
    case file(String, line: Int?)
    /// A command-line flag (without its dashes).
    case flag(String)
}

/// A type a setting's value can have.
protocol RunValue {
    init?(_ value: SettingValue)
    /// What the value must look like, for errors.
    static var expectation: String { get }
}

/// Numbers: a plain scalar that the type's `init?(_: String)` reads.
protocol NumericRunValue: RunValue, LosslessStringConvertible {}

extension NumericRunValue {
    init?(_ value: SettingValue) {
        guard let text = value.plainText, let number = Self(text) else { return nil }
        self = number
    }
}

extension Int: NumericRunValue {
    static var expectation: String { "an integer" }
}

extension UInt64: NumericRunValue {
    static var expectation: String { "a non-negative integer" }
}

extension Double: NumericRunValue {
    static var expectation: String { "a number" }
}

extension Bool: RunValue {
    init?(_ value: SettingValue) {
        switch value.plainText {
        case "true": self = true
        case "false": self = false
        default: return nil
        }
    }
    static var expectation: String { "true or false" }
}

extension String: RunValue {
    init?(_ value: SettingValue) {
        guard case let .scalar(text, _) = value else { return nil }
        self = text
    }
    static var expectation: String { "a string" }
}

extension Array: RunValue where Element: RunValue {
    init?(_ value: SettingValue) {
        guard case let .list(items) = value else { return nil }
        var elements: [Element] = []
        for item in items {
            guard let element = Element(item) else { return nil }
            elements.append(element)
        }
        self = elements
    }
    static var expectation: String { "a list such as [1, 2], each \(Element.expectation)" }
}

/// A layer's shape: a number of units (`784`) or channels, height and width (`1x28x28`).
extension LayerShape: RunValue {
    init?(_ value: SettingValue) {
        guard let text = value.plainText else { return nil }
        let parts = text.split(separator: "x", omittingEmptySubsequences: false)
        let dimensions = parts.compactMap { Int($0) }
        guard [1, 3].contains(parts.count), dimensions.count == parts.count else { return nil }
        self.init(dimensions: dimensions)
    }
    static var expectation: String { "a number of units or a shape CxHxW such as 1x28x28" }

    /// As a run file writes it: `784`, `1x28x28`.
    var runFileText: String { dimensions.map(String.init).joined(separator: "x") }
}

/// How a layer meets the one below, as a run file writes it: `dense`, or `convK[/sS][/pP]`.
enum InteractionForm: RunValue {
    case dense
    case convolution(kernel: Int, stride: Int, padding: Int, pooling: Int?)

    init?(_ value: SettingValue) {
        guard let text = value.plainText else { return nil }
        if text == "dense" {
            self = .dense
            return
        }
        var parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts[0].hasPrefix("conv"), let kernel = Int(parts.removeFirst().dropFirst(4)) else { return nil }
        var (stride, padding, pooling): (Int, Int, Int?) = (1, 0, nil)
        for part in parts {
            if part.hasPrefix("pool") {
                guard let window = Int(part.dropFirst(4)) else { return nil }
                pooling = window
                continue
            }
            switch (part.first, Int(part.dropFirst())) {
            case let ("s", value?): stride = value
            case let ("p", value?): padding = value
            default: return nil
            }
        }
        self = .convolution(kernel: kernel, stride: stride, padding: padding, pooling: pooling)
    }

    static var expectation: String { "dense, or convK[/sS][/pP][/poolM] such as conv5/p2/pool2 (a 5×5 convolution, stride 1, padding 2, then 2×2 max pooling)" }

    /// The form of `interaction`.
    init(_ interaction: InteractionSpecification) {
        switch interaction {
        case .dense: self = .dense
        case let .convolution(_, _, kernel, stride, padding, pooling): self = .convolution(kernel: kernel, stride: stride, padding: padding, pooling: pooling)
        }
    }

    /// The interaction between layers `lower` and `lower + 1`.
    func interaction(lower: Int) -> InteractionSpecification {
        switch self {
        case .dense: .dense(lower: lower, upper: lower + 1)
        case let .convolution(kernel, stride, padding, pooling): .convolution(lower: lower, upper: lower + 1, kernel: kernel, stride: stride, padding: padding, pooling: pooling)
        }
    }

    var runFileText: String {
        switch self {
        case .dense: "dense"
        case let .convolution(kernel, stride, padding, pooling):
            "conv\(kernel)" + (stride == 1 ? "" : "/s\(stride)") + (padding == 0 ? "" : "/p\(padding)") + (pooling.map { "/pool\($0)" } ?? "")
        }
    }
}

/// Names from a fixed set (rules, energies, activations, …).
protocol NamedRunValue: RunValue, RawRepresentable<String>, CaseIterable {}

extension NamedRunValue {
    init?(_ value: SettingValue) {
        guard let text = value.plainText, let named = Self(rawValue: text) else { return nil }
        self = named
    }
    static var expectation: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
}

extension RuleName: NamedRunValue {}
extension DatasetName: NamedRunValue {}
extension EnergySpecification.Kind: NamedRunValue {}
extension Activation: NamedRunValue {}
extension Nudging: NamedRunValue {}
extension STDPForm: NamedRunValue {}
extension CostName: NamedRunValue {}
extension OptimizerName: NamedRunValue {}
extension LearningRateSchedule: NamedRunValue {}
extension PixelScaling: NamedRunValue {}
extension DynamicsSpecification.Minimizer: NamedRunValue {}
