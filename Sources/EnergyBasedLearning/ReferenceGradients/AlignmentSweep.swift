import LinearAlgebra

/// The experiment of Millidge et al. (2022): how closely a rule's update on a predictive-coding
/// network matches backprop's gradient, as a function of the nudge and of the number of inference
/// steps, over several seeds.
///
/// For each seed, a network is drawn (Glorot-uniform weights, zero biases), the batch goes through
/// the feed-forward pass (the free equilibrium of the predictive-coding energy; for CHL the start
/// of the weak-feedback free phase), backprop gives the reference, and the rule's
/// estimate after `steps` inference steps of size `inferenceRate` is compared with it.
public struct AlignmentSweep: Sendable {
    /// The rule, its nudge replaced by each of ``nudges`` in turn: `λ` for PC-Nudge, the
    /// output-to-hidden precision ratio `π_L/π_l` for PC (hidden precisions 1), `β` for EP and coupled
    /// learning, and for CHL the feedback gain `γ` of the weak-feedback Hopfield energy (Xie & Seung
    /// 2003), measured against backprop through its feed-forward limit (hard-sigmoid layers).
    public var rule: RuleSpecification
    /// The network: dense layers, or convolutional ones (the predictive-coding energy's
    /// convolutions; CHL's weak-feedback energy is dense only).
    public var architecture: ArchitectureSpecification
    public var layerSizes: [Int] { architecture.layerSizes }
    public var hidden: Activation
    public var output: Activation
    public var nudges: [Double]
    public var steps: [Int]
    public var inferenceRate: Double
    public var seeds: [UInt64]
    /// The output cost the rules nudge with and backprop differentiates.
    public var cost: CostName

    public init(rule: RuleSpecification, architecture: ArchitectureSpecification, hidden: Activation, output: Activation, nudges: [Double],
                steps: [Int], inferenceRate: Double, seeds: [UInt64], cost: CostName = .squaredError) {
        self.rule = rule
        self.architecture = architecture
        self.hidden = hidden
        self.output = output
        self.nudges = nudges
        self.steps = steps
        self.inferenceRate = inferenceRate
        self.seeds = seeds
        self.cost = cost
    }

    /// One measurement: a rule's estimate at one nudge, step count and seed against backprop.
    public struct Row: Sendable, Codable, Equatable {
        public var rule: RuleName
        public var nudge: Double
        public var steps: Int
        public var seed: UInt64
        public var comparison: GradientComparison
    }

    /// An impossible sweep setting, named by its `eqprop align` flag.
    public struct InvalidSetting: Error, Equatable, CustomStringConvertible {
        public var flag: String
        public var message: String
        public var description: String { "--\(flag): \(message)" }
    }

    /// The energy the sweep measures the rule on: the weak-feedback Hopfield energy for CHL, else
    /// the predictive-coding energy.
    private var energy: EnergySpecification {
        rule.name == .chl ? .hopfield : .predictiveCoding(hidden: hidden, output: output)
    }

    public func validate() throws {
        func require(_ condition: Bool, _ flag: String, _ expected: String, _ value: String) throws {
            if !condition { throw InvalidSetting(flag: flag, message: "expected \(expected), got \(value)") }
        }
        do {
            try architecture.validate()
        } catch let error as SpecificationError {
            throw InvalidSetting(flag: error.key == "architecture.layers" ? "layers" : "interactions", message: error.message)
        }
        try require(!(architecture.hasConvolution && rule.name == .chl), "interactions",
                    "dense interactions for chl (its weak-feedback energy has no convolution)", architecture.summary)
        try require(!architecture.hasPooling, "interactions", "no pooling (the predictive-coding energy has none)", architecture.summary)
        try require(rule.nudge != nil, "rule", "a rule with a nudge to sweep (\(RuleName.allCases.filter { $0.nudgeName != nil }.map(\.rawValue).joined(separator: ", ")))",
                    rule.name.rawValue)
        try require(!nudges.isEmpty, "nudges", "at least one nudge", "none")
        try require(!steps.isEmpty && steps.allSatisfy { $0 >= 1 }, "steps", "positive step counts",
                    steps.map(String.init).joined(separator: ","))
        try require(inferenceRate > 0 && inferenceRate.isFinite, "inference-rate", "a positive step size", "\(inferenceRate)")
        try require(!seeds.isEmpty, "seeds", "at least one seed", "none")
        let dynamics = DynamicsSpecification(stepSize: inferenceRate, freeSteps: rule.name == .chl ? steps.max() : nil, nudgedSteps: steps.max() ?? 1)
        for nudge in nudges {
            do {
                try rule.with(nudge: nudge).validate(energy: energy, dynamics: dynamics, cost: cost)
            } catch let error as SpecificationError {
                // The nudge is the rule's setting, the energy follows from the rule, the cost is --cost.
                let flag = error.key.hasPrefix("rule.") ? "nudges" : error.key == "training.cost" ? "cost" : "rule"
                throw InvalidSetting(flag: flag, message: error.message)
            }
        }
    }

    /// Every (seed, nudge, steps) measurement on the batch `input` with one-hot `target`.
    public func run(input: Matrix<Double>, target: Matrix<Double>) throws -> [Row] {
        try validate()
        var rows: [Row] = []
        for seed in seeds {
            for nudge in nudges {
                let rule = self.rule.with(nudge: nudge)
                let properties = rule.energyProperties
                var generator = SeededGenerator(seed: seed)
                let energy: LayeredEnergy<Double> = self.energy.make(architecture: architecture, outputPrecision: properties.outputPrecision,
                                                                     feedbackGain: properties.feedbackGain, using: &generator)
                let stepScales: [Double]? = self.energy.layerStepScales(layerCount: layerSizes.count, feedbackGain: properties.feedbackGain)
                let free: NetworkState<Double>, reference: [[Matrix<Double>]]
                if rule.name == .chl {
                    // The free phase relaxes (with the same dynamics) from the feed-forward pass of the limit.
                    var state = try Backpropagation.feedForward(try FeedForwardChain.limit(of: energy).energy, input: input)
                    try ProjectedGradientDescent<Double>(stepSize: inferenceRate, steps: steps.max()!, layerStepScales: stepScales)
                        .relax(&state, under: ClampedEnergy(energy, clamping: [0], at: state), using: &generator)
                    free = state
                    reference = try Backpropagation(cost: cost.cost(), matchingOutputLoss: true).gradient(ofFeedForwardLimit: energy, input: input, target: target)
                } else {
                    free = try Backpropagation.feedForward(energy, input: input)
                    reference = try Backpropagation(cost: cost.cost()).gradient(energy: energy, input: input, target: target)
                }
                let clamped = ClampedEnergy(energy, clamping: [0], at: free)
                for count in steps {
                    let dynamics = ProjectedGradientDescent<Double>(stepSize: inferenceRate, steps: count, layerStepScales: stepScales)
                    var ruleGenerator = SeededGenerator(seed: seed)
                    let estimate = try rule.make(cost: cost.cost(), dynamics: dynamics, layerCount: layerSizes.count)
                        .estimate(energy: clamped, freeState: free, target: target, using: &ruleGenerator)
                    rows.append(Row(rule: rule.name, nudge: nudge, steps: count, seed: seed,
                                    comparison: GradientComparison(estimate: estimate.gradient(of: energy), reference: reference,
                                                                   names: energy.terms.map(\.name))))
                }
            }
        }
        return rows
    }
}
