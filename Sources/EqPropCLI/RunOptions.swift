import ArgumentParser
import Datasets
import EnergyBasedLearning
import TrainingRuns

/// The help text of the run setting that `--flag` overrides (``RunKey/all``).
func settingHelp(_ flag: String) -> ArgumentHelp { ArgumentHelp(RunKey.flagged(flag)?.help ?? "") }

/// A rule and its settings, by the flags of ``RunKey/all``: `train`, `bench`, `gradcheck` and `align`
/// share them.
struct RuleOptions: ParsableArguments {
    @Option(help: settingHelp("rule")) var rule: String?
    @Option(parsing: .unconditional, help: settingHelp("beta")) var beta: String?
    @Option(help: settingHelp("nudging")) var nudging: String?
    @Option(help: settingHelp("stdp-form")) var stdpForm: String?
    @Option(parsing: .unconditional, help: settingHelp("feedback-gain")) var feedbackGain: String?
    @Option(parsing: .unconditional, help: settingHelp("output-precision")) var outputPrecision: String?
    @Option(parsing: .unconditional, help: settingHelp("lambda")) var lambda: String?
    // Flags of earlier versions, refused with what to write instead.
    @Flag(help: .hidden) var symmetric = false
    @Flag(inversion: .prefixedNo, help: .hidden) var randomSign: Bool?

    func validate() throws {
        if symmetric { throw ValidationError("--symmetric: symmetric nudging is now --nudging centered") }
        if randomSign != nil { throw ValidationError("--random-sign: the sign of β is now --nudging random (or positive, negative, centered)") }
        if rule == "ep-symmetric" { throw ValidationError("--rule: ep-symmetric is now --rule ep --nudging centered") }
    }

    /// The flags given, with their text.
    var given: [(flag: String, text: String)] {
        [("rule", rule), ("beta", beta), ("nudging", nudging), ("stdp-form", stdpForm), ("feedback-gain", feedbackGain),
         ("output-precision", outputPrecision), ("lambda", lambda)].compactMap { flag, text in text.map { (flag, $0) } }
    }

    /// The rule the flags name (`defaultRule` if none), its nudge `defaultNudge(rule)` unless its flag
    /// gives it; an error names the flag.
    func specification(default defaultRule: RuleName, nudge defaultNudge: (RuleName) -> Double) throws -> RuleSpecification {
        var settings = RunSettings(source: "the command line")
        for (flag, text) in given { settings.set(RunKey.flagged(flag)!, fromFlag: text) }
        if settings["rule.name"] == nil { settings.set(RunKey.flagged("rule")!, fromFlag: defaultRule.rawValue) }
        if let name = settings["rule.name"]?.value.plainText.flatMap(RuleName.init(rawValue:)),
           let nudge = name.nudgeSetting, settings["rule.\(nudge)"] == nil {
            settings.set(RunKey.flagged(nudge)!, fromFlag: "\(defaultNudge(name))")
        }
        do {
            return try RuleSpecification(settings: settings)
        } catch let error as RunFileError {
            throw ValidationError(error.description)
        }
    }
}

/// The run a command works on: a YAML run file or a preset, and a flag for every setting, which
/// overrides the file's value. `train` and `bench` share it, so both accept the same runs.
struct RunOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("A YAML run file (see the presets in Sources/TrainingRuns/Presets).", valueName: "run-file"))
    var runFile: String?

    @Option(help: "Start from a preset (default: scellier2017-net1 when no run file is given).")
    var preset: String?

    @Option(help: settingHelp("layers")) var layers: String?
    @Option(help: settingHelp("interactions")) var interactions: String?
    @Option(parsing: .unconditional, help: settingHelp("gains")) var gains: String?
    @Option(help: settingHelp("energy")) var energy: String?
    @Option(help: settingHelp("hidden-activation")) var hiddenActivation: String?
    @Option(help: settingHelp("output-activation")) var outputActivation: String?
    @Option(help: settingHelp("minimizer")) var minimizer: String?
    @Option(help: settingHelp("nudged-minimizer")) var nudgedMinimizer: String?
    @Option(parsing: .unconditional, help: settingHelp("epsilon")) var epsilon: String?
    @Option(parsing: .unconditional, help: settingHelp("overrelaxation")) var overrelaxation: String?
    @Option(parsing: .unconditional, help: settingHelp("free-steps")) var freeSteps: String?
    @Option(parsing: .unconditional, help: settingHelp("nudged-steps")) var nudgedSteps: String?
    @Option(parsing: .unconditional, help: settingHelp("tolerance")) var tolerance: String?
    @Option(parsing: .unconditional, help: settingHelp("noise")) var noise: String?
    @Flag(inversion: .prefixedNo, help: settingHelp("stable-steps")) var stableSteps: Bool?
    @Flag(inversion: .prefixedNo, help: settingHelp("persistent-particles")) var persistentParticles: Bool?
    @OptionGroup var rule: RuleOptions
    @Option(parsing: .unconditional, help: settingHelp("epochs")) var epochs: String?
    @Option(parsing: .unconditional, help: settingHelp("batch-size")) var batchSize: String?
    @Option(parsing: .unconditional, help: settingHelp("learning-rates")) var learningRates: String?
    @Option(help: settingHelp("optimizer")) var optimizer: String?
    @Option(help: settingHelp("schedule")) var schedule: String?
    @Option(parsing: .unconditional, help: settingHelp("weight-decay")) var weightDecay: String?
    @Option(help: settingHelp("cost")) var cost: String?
    @Option(parsing: .unconditional, help: settingHelp("random-shift")) var randomShift: String?
    @Flag(inversion: .prefixedNo, help: settingHelp("horizontal-flip")) var horizontalFlip: Bool?
    @Option(help: settingHelp("pixels")) var pixels: String?
    @Option(parsing: .unconditional, help: settingHelp("validation")) var validation: String?
    @Option(parsing: .unconditional, help: settingHelp("seed")) var seed: String?

    func validate() throws {
        if runFile != nil, preset != nil {
            throw ValidationError("--preset: give a run file or a preset, not both")
        }
    }

    /// The setting flags given, with their text.
    var given: [(flag: String, text: String)] {
        [("layers", layers), ("interactions", interactions), ("gains", gains), ("energy", energy), ("hidden-activation", hiddenActivation), ("output-activation", outputActivation),
         ("minimizer", minimizer), ("nudged-minimizer", nudgedMinimizer), ("epsilon", epsilon), ("overrelaxation", overrelaxation), ("free-steps", freeSteps), ("nudged-steps", nudgedSteps), ("tolerance", tolerance), ("noise", noise),
         ("stable-steps", stableSteps.map { "\($0)" }), ("persistent-particles", persistentParticles.map { "\($0)" }),
         ("epochs", epochs), ("batch-size", batchSize), ("learning-rates", learningRates), ("optimizer", optimizer),
         ("schedule", schedule), ("weight-decay", weightDecay), ("cost", cost),
         ("random-shift", randomShift), ("horizontal-flip", horizontalFlip.map { "\($0)" }), ("pixels", pixels), ("validation", validation), ("seed", seed),
        ].compactMap { flag, text in text.map { (flag, $0) } } + rule.given
    }

    /// What was given that describes the run, by name: a run file, `--preset`, `--dataset`, the
    /// command's own `others` that were given, then every setting flag; for a command whose run comes
    /// from elsewhere (a checkpoint, a saved model).
    func describingRun(data: DataOptions, others: [(name: String, given: Bool)] = []) -> [String] {
        ([("a run file", runFile != nil), ("--preset", preset != nil), ("--dataset", data.dataset != nil)] + others).filter(\.1).map(\.0)
            + given.map { "--\($0.flag)" }
    }

    /// The run file's, the preset's or the default preset's settings, with `dataset` and `output`
    /// (when given) and every setting flag applied, untyped; and the run's name.
    func settings(dataset: DatasetName? = nil, output: String? = nil) throws -> (settings: RunSettings, name: String) {
        let name = runFile ?? preset ?? "scellier2017-net1"
        let base = try runFile.map { try RunFile.settings(contentsOf: $0) } ?? RunFile.presetSettings(name)
        var overrides = RunSettings(source: "the command line")
        for (flag, text) in given + [("dataset", dataset?.rawValue), ("output", output)].compactMap({ flag, text in text.map { (flag, $0) } }) {
            overrides.set(RunKey.flagged(flag)!, fromFlag: text)
        }
        return (base.overriding(with: overrides), name)
    }

    /// The run those settings describe, validated: each error names its flag or its file and line.
    func resolved(dataset: DatasetName? = nil, output: String? = nil) throws -> (run: RunFile, name: String) {
        let (settings, name) = try settings(dataset: dataset, output: output)
        return (try RunFile(settings: settings), name)
    }
}
