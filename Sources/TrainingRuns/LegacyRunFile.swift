import EnergyBasedLearning

/// Run files and checkpoints of earlier versions of EqProp, which named some settings differently:
/// every rule's nudge was `rule.beta` (λ for pc-nudge, π_L for pc, ignored by chl and bp),
/// `rule.random-sign` and `rule.nudging: one-sided | symmetric` set the sign of the nudge (ignored by
/// stdp, chl, pc and pc-nudge), `rule.name: ep-symmetric` was EP with symmetric nudging,
/// `rule.persistent-particles` is now a dynamics setting, and the predictive-coding energy took a
/// `free-steps` that it did not use.
///
/// A run file written so is refused with a message that says what to write instead
/// (``hint(forUnknownKey:)``, ``hint(for:value:)``); the run stored in a checkpoint or a saved model of
/// an earlier version is converted (``converted(_:)``), to the run it described.
enum LegacyRunFile {
    /// The keys that are gone.
    static let keys = ["rule.random-sign", "rule.persistent-particles"]

    /// What became of keys that are gone.
    static func hint(forUnknownKey key: String) -> String? {
        switch key {
        case "rule.random-sign": "the sign of β is now rule.nudging: write 'nudging: random' for a random sign, 'nudging: positive' for none"
        case "rule.persistent-particles": "it is now dynamics.persistent-particles"
        default: nil
        }
    }

    /// What became of values that are gone.
    static func hint(for key: String, value: String) -> String? {
        switch (key, value) {
        case ("rule.nudging", "one-sided"): "one-sided nudging is now 'positive' (or 'negative', or 'random' for a random sign)"
        case ("rule.nudging", "symmetric"): "symmetric nudging is now 'centered'"
        case ("rule.name", "ep-symmetric"): "write 'name: ep' with 'nudging: centered'"
        default: nil
        }
    }

    /// The run that `settings`, written by an earlier version, described, in today's settings.
    static func converted(_ settings: RunSettings) -> RunSettings {
        var settings = settings
        func text(_ key: String) -> String? { settings[key]?.value.plainText }
        func set(_ key: String, _ value: String) {
            let origin = settings[key]?.origin ?? .file(settings.source, line: nil)
            settings.entries[key] = RunSettings.Setting(value: .scalar(value, plain: true), origin: origin)
        }
        func move(_ key: String, to newKey: String) {
            if let setting = settings[key] { settings.entries[newKey] = setting }
            settings.entries[key] = nil
        }
        if text("rule.name") == "ep-symmetric" {
            set("rule.name", "ep")
            set("rule.nudging", "symmetric")
        }
        let randomSign = text("rule.random-sign") == "true"
        settings.entries["rule.random-sign"] = nil
        switch text("rule.nudging") {
        case "symmetric": set("rule.nudging", "centered")
        default: set("rule.nudging", randomSign ? "random" : "positive")
        }
        move("rule.persistent-particles", to: "dynamics.persistent-particles")
        switch text("rule.name").flatMap(RuleName.init(rawValue:)) {
        case .pc?: move("rule.beta", to: "rule.output-precision")
        case .pcNudge?: move("rule.beta", to: "rule.lambda")
        // The STDP rule ignored the sign settings: it always nudged with +β.
        case .stdp?: set("rule.nudging", "positive")
        default: break
        }
        for key in settings.keys where key.hasPrefix("rule.") && key != "rule.name" {
            if let name = text("rule.name").flatMap(RuleName.init(rawValue:)), !name.settings.contains(String(key.dropFirst(5))) {
                settings.entries[key] = nil
            }
        }
        if text("energy.kind") == EnergySpecification.Kind.pc.rawValue {
            settings.entries["dynamics.free-steps"] = nil
        } else {
            settings.entries["energy.hidden-activation"] = nil
            settings.entries["energy.output-activation"] = nil
        }
        return settings
    }
}

extension LegacyRunFile {
    /// The run-file key of each field of the `TrainingConfiguration` that earlier versions wrote
    /// into a saved model's `model.json`.
    static let configurationFields: [String: String] = [
        "layerSizes": "architecture.layers", "epochs": "training.epochs", "batchSize": "training.batch-size",
        "freeSteps": "dynamics.free-steps", "nudgedSteps": "dynamics.nudged-steps", "stepSize": "dynamics.epsilon",
        "beta": "rule.beta", "learningRates": "training.learning-rates", "randomSign": "rule.random-sign", "nudging": "rule.nudging",
        "persistentParticles": "rule.persistent-particles", "seed": "seed", "rule": "rule.name", "stdpForm": "rule.stdp-form",
        "noise": "dynamics.noise", "energy": "energy.kind", "hidden": "energy.hidden-activation", "output": "energy.output-activation",
        "cost": "training.cost", "optimizer": "training.optimizer", "schedule": "training.schedule", "weightDecay": "training.weight-decay",
        "stableSteps": "dynamics.stable-steps", "pixels": "pixels",
    ]

    /// A value of an earlier version's configuration: a flag, a number, a name or a list of numbers.
    enum ConfigurationValue: Decodable {
        case flag(Bool), integer(Int), number(Double), name(String), integers([Int]), numbers([Double])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Bool.self) { self = .flag(value) }
            else if let value = try? container.decode(Int.self) { self = .integer(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .name(value) }
            else if let value = try? container.decode([Int].self) { self = .integers(value) }
            else { self = .numbers(try container.decode([Double].self)) }
        }

        var setting: SettingValue {
            switch self {
            case let .flag(value): .scalar("\(value)", plain: true)
            case let .integer(value): .scalar("\(value)", plain: true)
            case let .number(value): .scalar("\(value)", plain: true)
            case let .name(value): .scalar(value, plain: true)
            case let .integers(values): .list(values.map { .scalar("\($0)", plain: true) })
            case let .numbers(values): .list(values.map { .scalar("\($0)", plain: true) })
            }
        }
    }

    /// The run that an earlier version's configuration (and the data set it named) described.
    static func settings(configuration: [String: ConfigurationValue], dataset: String?, file: String) -> RunSettings {
        var settings = RunSettings(source: file)
        for (field, value) in configuration {
            guard let key = configurationFields[field] else { continue }
            settings.entries[key] = RunSettings.Setting(value: value.setting, origin: .file(file, line: nil))
        }
        if let dataset { settings.entries["dataset"] = RunSettings.Setting(value: .scalar(dataset, plain: true), origin: .file(file, line: nil)) }
        return converted(settings)
    }
}
