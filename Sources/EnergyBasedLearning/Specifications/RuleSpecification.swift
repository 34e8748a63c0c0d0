import LinearAlgebra

/// A learning rule and its own parameters (the run file's `rule` section): the one vocabulary of
/// rules that training, `gradcheck`, `align` and `bench` share. Each case builds its rule
/// (``make(cost:dynamics:layerCount:)``) and checks itself against the energy, the dynamics and
/// the cost it runs with (``validate(energy:dynamics:cost:)``).
public enum RuleSpecification: Codable, Sendable, Equatable {
    /// Equilibrium Propagation, nudge `β` (``EquilibriumPropagation``): PEP, NEP, CEP or a random sign.
    case ep(beta: Double, nudging: Nudging)
    /// The rate-based STDP rule along the nudged phase (``RateSTDP``).
    case stdp(beta: Double, nudging: Nudging, form: STDPForm)
    /// Contrastive Hebbian learning: the output clamped at the target (``OutputClamping``). With a
    /// feedback gain `γ < 1`, on the weak-feedback Hopfield energy, divided by `γ^L` (Xie & Seung 2003).
    case chl(feedbackGain: Double)
    /// Coupled learning, the output clamped a step `β` towards the target (``CoupledLearning``).
    case cpl(beta: Double, nudging: Nudging)
    /// Predictive coding: the output clamped at the target on the energy with output precision
    /// `π_L`, the update divided by `π_L` (``OutputClamping/predictiveCoding(outputPrecision:dynamics:)``).
    case pc(outputPrecision: Double)
    /// PC-Nudge, the output's prediction error held at `−λ·∂C/∂ŷ` (``PCNudge``).
    case pcNudge(lambda: Double)
    /// Backprop through the feed-forward network of the predictive-coding energy (``Backpropagation``).
    case bp
    /// Truncated backprop through the second phase's steps from the free state (``TruncatedBackpropagation``).
    case tbp
    /// Recurrent backprop: the adjoint iterated at the free state (``RecurrentBackpropagation``).
    case rbp

    public var name: RuleName {
        switch self {
        case .ep: .ep
        case .stdp: .stdp
        case .chl: .chl
        case .cpl: .cpl
        case .pc: .pc
        case .pcNudge: .pcNudge
        case .bp: .bp
        case .tbp: .tbp
        case .rbp: .rbp
        }
    }

    /// The rule's nudge: the parameter whose limit 0 makes the update the loss gradient (`β`, `γ`,
    /// `π_L` or `λ`); `nil` for the rules that compute a gradient directly.
    public var nudge: Double? {
        switch self {
        case let .ep(beta, _), let .stdp(beta, _, _), let .cpl(beta, _): beta
        case let .chl(feedbackGain): feedbackGain
        case let .pc(outputPrecision): outputPrecision
        case let .pcNudge(lambda): lambda
        case .bp, .tbp, .rbp: nil
        }
    }

    /// The same rule with its nudge set to `nudge` (unchanged for a rule without one).
    public func with(nudge: Double) -> RuleSpecification {
        switch self {
        case let .ep(_, nudging): .ep(beta: nudge, nudging: nudging)
        case let .stdp(_, nudging, form): .stdp(beta: nudge, nudging: nudging, form: form)
        case .chl: .chl(feedbackGain: nudge)
        case let .cpl(_, nudging): .cpl(beta: nudge, nudging: nudging)
        case .pc: .pc(outputPrecision: nudge)
        case .pcNudge: .pcNudge(lambda: nudge)
        case .bp, .tbp, .rbp: self
        }
    }

    /// The rule's settings as a run file writes them (`rule.<name>: value`), in the order of
    /// ``RuleName/settings``.
    public var settings: [(name: String, value: String)] {
        switch self {
        case let .ep(beta, nudging), let .cpl(beta, nudging): [("beta", "\(beta)"), ("nudging", nudging.rawValue)]
        case let .stdp(beta, nudging, form): [("beta", "\(beta)"), ("nudging", nudging.rawValue), ("stdp-form", form.rawValue)]
        case let .chl(feedbackGain): [("feedback-gain", "\(feedbackGain)")]
        case let .pc(outputPrecision): [("output-precision", "\(outputPrecision)")]
        case let .pcNudge(lambda): [("lambda", "\(lambda)")]
        case .bp, .tbp, .rbp: []
        }
    }

    /// The rule and its settings in one line: `ep (beta 1.0, nudging random)`.
    public var summary: String {
        settings.isEmpty ? name.rawValue : name.rawValue + " (" + settings.map { "\($0.name) \($0.value)" }.joined(separator: ", ") + ")"
    }

    /// The properties of the energy that are this rule's nudge: PC's output precision `π_L` and
    /// weak-feedback CHL's gain `γ` (1 for every other rule). ``EnergySpecification/make(architecture:outputPrecision:feedbackGain:using:)``
    /// takes them.
    public var energyProperties: (outputPrecision: Double, feedbackGain: Double) {
        switch self {
        case let .pc(outputPrecision): (outputPrecision, 1)
        case let .chl(feedbackGain): (1, feedbackGain)
        default: (1, 1)
        }
    }

    /// Whether the rule relaxes a second phase (all but backprop, which needs only the free phase).
    public var hasSecondPhase: Bool { self != .bp }

    /// Throws a ``SpecificationError`` naming the first setting this rule cannot run with.
    public func validate(energy: EnergySpecification, dynamics: DynamicsSpecification, cost: CostName) throws {
        let rule = name.rawValue
        func requireEnergy(_ kind: EnergySpecification.Kind, _ why: String) throws {
            try require(energy.kind == kind, "energy.kind", "\(kind.rawValue) for rule \(rule) (\(why))", energy.kind.rawValue)
        }
        func requireSquaredError() throws {
            try require(cost == .squaredError, "training.cost",
                        "squared-error for rule \(rule) (clamping the output at the target descends the squared error)", cost.rawValue)
        }
        switch self {
        case let .ep(beta, _), let .cpl(beta, _):
            try require(beta > 0 && beta.isFinite, "rule.beta", "a positive finite β (the nudging picks its sign; the update is divided by β)", beta)
        case let .stdp(beta, _, _):
            try require(beta > 0 && beta.isFinite, "rule.beta", "a positive finite β (the nudging picks its sign; the update is divided by β)", beta)
            try requireEnergy(.hopfield, "its synapses read the rates ρ(s) of the Hopfield energy")
        case let .chl(feedbackGain):
            try require(feedbackGain > 0 && feedbackGain <= 1, "rule.feedback-gain", "a feedback gain γ in (0, 1]", feedbackGain)
            if feedbackGain != 1 { try requireEnergy(.hopfield, "the feedback gain weighs the Hopfield energy's layers") }
            try requireSquaredError()
        case let .pc(outputPrecision):
            try require(outputPrecision > 0 && outputPrecision.isFinite, "rule.output-precision",
                        "a positive finite output precision π_L (the update is divided by it)", outputPrecision)
            try requireEnergy(.pc, "it sets the output precision of the predictive-coding energy")
            try requireSquaredError()
        case let .pcNudge(lambda):
            try require(lambda != 0 && lambda.isFinite, "rule.lambda", "a finite non-zero λ (the update is divided by λ)", lambda)
            try requireEnergy(.pc, "it holds a prediction error")
        case .bp:
            try requireEnergy(.pc, "it backpropagates through the feed-forward network of prediction errors")
        case .tbp, .rbp:
            try require(dynamics.noise == 0, "dynamics.noise", "0 for rule \(rule) (it differentiates the dynamics, which must be deterministic)", dynamics.noise)
            try require(dynamics.secondPhase == .gradientDescent, dynamics.secondPhaseMinimizer == nil ? "dynamics.minimizer" : "dynamics.nudged-minimizer",
                        "gradient-descent for rule \(rule) (its second phase differentiates gradient-descent steps; "
                        + "the free phase may be exact-block: --nudged-minimizer gradient-descent)", dynamics.secondPhase.rawValue)
        }
        if dynamics.secondPhase == .exactBlock, [.ep, .stdp].contains(name) {
            try require(cost == .squaredError, "training.cost", "squared-error for rule \(rule) with the exact-block minimizer (the nudge β·C must "
                        + "be quadratic in the output: the softmax's cross-entropy has no closed-form minimiser per layer)", cost.rawValue)
        }
    }

    /// The rule, for a network with `layerCount` layers, nudging with `cost`, its second phase run by
    /// `dynamics`.
    /// (`tbp` and `rbp` differentiate gradient-descent steps from the free state, which any minimiser
    /// may reach: validation refuses them any other second phase.)
    public func make<Scalar: BLASScalar>(cost: any Cost<Scalar>, dynamics: any Dynamics<Scalar>, layerCount: Int) -> any LearningRule<Scalar> {
        func gradientDescent() -> ProjectedGradientDescent<Scalar> {
            guard let steps = dynamics as? ProjectedGradientDescent<Scalar> else {
                preconditionFailure("rule \(name.rawValue) differentiates gradient-descent steps (validate() refuses another second phase)")
            }
            return steps
        }
        return switch self {
        case let .ep(beta, nudging): EquilibriumPropagation(beta: Scalar(beta), nudging: nudging, cost: cost, dynamics: dynamics)
        case let .stdp(beta, nudging, form): RateSTDP(beta: Scalar(beta), nudging: nudging, form: form, cost: cost, dynamics: dynamics)
        case let .chl(feedbackGain) where feedbackGain == 1: OutputClamping.contrastiveHebbian(dynamics: dynamics)
        case let .chl(feedbackGain):
            OutputClamping.weakFeedbackContrastiveHebbian(feedbackGain: Scalar(feedbackGain), outputLayer: layerCount - 1, dynamics: dynamics)
        case let .cpl(beta, nudging): CoupledLearning(beta: Scalar(beta), nudging: nudging, cost: cost, dynamics: dynamics)
        case let .pc(outputPrecision): OutputClamping.predictiveCoding(outputPrecision: Scalar(outputPrecision), dynamics: dynamics)
        case let .pcNudge(lambda): PCNudge(lambda: Scalar(lambda), cost: cost, dynamics: dynamics)
        case .bp: Backpropagation(cost: cost)
        case .tbp: TruncatedBackpropagation(dynamics: gradientDescent(), cost: cost)
        case .rbp: RecurrentBackpropagation(dynamics: gradientDescent(), cost: cost)
        }
    }
}

/// The rules by name, as run files (`rule.name`) and the command line (`--rule`) spell them, with
/// the settings each takes (`rule.<setting>`, `--<setting>`).
public enum RuleName: String, Sendable, CaseIterable, Codable {
    case ep, stdp, chl, cpl, pc, pcNudge = "pc-nudge", bp, tbp, rbp

    /// The run-file keys of the rule's own settings, in the `rule` section.
    public var settings: [String] {
        switch self {
        case .ep, .cpl: ["beta", "nudging"]
        case .stdp: ["beta", "nudging", "stdp-form"]
        case .chl: ["feedback-gain"]
        case .pc: ["output-precision"]
        case .pcNudge: ["lambda"]
        case .bp, .tbp, .rbp: []
        }
    }

    /// The setting that is the rule's nudge (`nil` for the rules without one).
    public var nudgeSetting: String? {
        switch self {
        case .ep, .stdp, .cpl: "beta"
        case .chl: "feedback-gain"
        case .pc: "output-precision"
        case .pcNudge: "lambda"
        case .bp, .tbp, .rbp: nil
        }
    }

    /// What the nudge is called (`nil` for the rules without one).
    public var nudgeName: String? {
        switch self {
        case .ep, .stdp, .cpl: "β"
        case .chl: "γ"
        case .pc: "π_L"
        case .pcNudge: "λ"
        case .bp, .tbp, .rbp: nil
        }
    }

    /// One line on what the rule does, for help texts.
    public var summary: String {
        switch self {
        case .ep: "Equilibrium Propagation, nudged by β·C (--beta; --nudging positive, negative, centered or random)"
        case .stdp: "the rate-based STDP rule along the nudged phase (--beta, --nudging, --stdp-form)"
        case .chl: "contrastive Hebbian learning, the output clamped at the target (--feedback-gain γ < 1: weak feedback)"
        case .cpl: "coupled learning, the output clamped a step β towards the target (--beta, --nudging)"
        case .pc: "predictive coding, the output clamped at the target on output precision π_L (--output-precision)"
        case .pcNudge: "PC-Nudge, the output's prediction error held at −λ·∂C/∂ŷ (--lambda)"
        case .bp: "backprop through the feed-forward network of the predictive-coding energy"
        case .tbp: "truncated backprop through the --nudged-steps steps that follow the free phase"
        case .rbp: "recurrent backprop, the adjoint iterated --nudged-steps times at the free state"
        }
    }
}
