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
    /// The rules the sweep can run, each with the meaning of its nudge.
    public enum Rule: String, Sendable, CaseIterable, Codable {
        /// PC-Nudge; the nudge is `λ`.
        case pcNudge = "pc-nudge"
        /// PC with the output clamped at the target; the nudge is the output-to-hidden precision
        /// ratio `π_L/π_l` (hidden precisions 1).
        case pc
        /// EP with the output free and nudged by `β·C`; the nudge is `β`.
        case ep
        /// EP with `±β` (Laborieux et al. 2021); the nudge is `β`.
        case epSymmetric = "ep-symmetric"
        /// Contrastive Hebbian learning on the weak-feedback Hopfield energy (Xie & Seung 2003),
        /// against backprop through its feed-forward limit (hard-sigmoid layers); the nudge is the
        /// feedback gain `γ`.
        case chl

        /// What the nudge of this rule is called.
        public var nudgeName: String {
            switch self {
            case .pcNudge: "λ"
            case .pc: "π_L/π_l"
            case .ep, .epSymmetric: "β"
            case .chl: "γ"
            }
        }
    }

    public var rule: Rule
    public var layerSizes: [Int]
    public var hidden: Activation
    public var output: Activation
    public var nudges: [Double]
    public var steps: [Int]
    public var inferenceRate: Double
    public var seeds: [UInt64]
    /// The output cost the rules nudge with and backprop differentiates.
    public var cost: CostName

    public init(rule: Rule, layerSizes: [Int], hidden: Activation, output: Activation, nudges: [Double], steps: [Int],
                inferenceRate: Double, seeds: [UInt64], cost: CostName = .squaredError) {
        self.rule = rule
        self.layerSizes = layerSizes
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
        public var rule: Rule
        public var nudge: Double
        public var steps: Int
        public var seed: UInt64
        public var comparison: GradientComparison
    }

    /// An impossible sweep setting, named by its `eqprop align` flag.
    public struct InvalidSetting: Error, Equatable, CustomStringConvertible {
        public var flag: String
        public var expected: String
        public var value: String
        public var description: String { "--\(flag): expected \(expected), got \(value)" }
    }

    public func validate() throws {
        func require(_ condition: Bool, _ flag: String, _ expected: String, _ value: String) throws {
            if !condition { throw InvalidSetting(flag: flag, expected: expected, value: value) }
        }
        try require(layerSizes.count >= 2 && layerSizes.allSatisfy { $0 > 0 }, "layers", "at least two positive sizes",
                    layerSizes.map(String.init).joined(separator: ","))
        try require(!nudges.isEmpty, "nudges", "at least one nudge", "none")
        for nudge in nudges {
            // Every rule divides by its nudge; PC's precision ratio must also be positive.
            try require(nudge.isFinite && nudge != 0, "nudges", "finite non-zero nudges (the update is divided by the nudge)", "\(nudge)")
            if rule == .pc { try require(nudge > 0, "nudges", "positive precision ratios π_L/π_l", "\(nudge)") }
            if rule == .chl { try require(nudge > 0 && nudge <= 1, "nudges", "feedback gains γ in (0, 1]", "\(nudge)") }
        }
        try require(!steps.isEmpty && steps.allSatisfy { $0 >= 1 }, "steps", "positive step counts",
                    steps.map(String.init).joined(separator: ","))
        try require(inferenceRate > 0 && inferenceRate.isFinite, "inference-rate", "a positive step size", "\(inferenceRate)")
        try require(!seeds.isEmpty, "seeds", "at least one seed", "none")
        try require(cost == .squaredError || ![.pc, .chl].contains(rule), "cost",
                    "squared-error for \(rule.rawValue) (clamping the output at the target descends the squared error)", cost.rawValue)
    }

    /// Every (seed, nudge, steps) measurement on the batch `input` with one-hot `target`.
    public func run(input: Matrix<Double>, target: Matrix<Double>) throws -> [Row] {
        try validate()
        var rows: [Row] = []
        for seed in seeds {
            for nudge in nudges {
                var generator = SeededGenerator(seed: seed)
                let energy: LayeredEnergy<Double>, free: NetworkState<Double>, reference: [[Matrix<Double>]]
                var stepScales: [Double]?
                if rule == .chl {
                    // The free phase relaxes (with the same dynamics) from the feed-forward pass.
                    energy = .hopfield(layerSizes: layerSizes, feedbackGain: nudge, using: &generator)
                    stepScales = LayeredEnergy.feedbackStepScales(layerCount: layerSizes.count, feedbackGain: nudge)
                    var state = try Backpropagation.feedForward(try Backpropagation.feedForwardLimit(of: energy), input: input)
                    try ProjectedGradientDescent<Double>(stepSize: inferenceRate, steps: steps.max()!, layerStepScales: stepScales)
                        .relax(&state, under: ClampedEnergy(energy, clamping: [0], at: state), nudge: nil, using: &generator)
                    free = state
                    reference = try Backpropagation(cost: cost.cost(), matchingOutputLoss: true).gradient(ofFeedForwardLimit: energy, input: input, target: target)
                } else {
                    var precisions = [Double](repeating: 1, count: layerSizes.count - 1)
                    if rule == .pc { precisions[precisions.count - 1] = nudge }
                    energy = .predictiveCoding(layerSizes: layerSizes, hidden: hidden, output: output, precisions: precisions, using: &generator)
                    free = try Backpropagation.feedForward(energy, input: input)
                    reference = try Backpropagation(cost: cost.cost()).gradient(energy: energy, input: input, target: target)
                }
                let clamped = ClampedEnergy(energy, clamping: [0], at: free)
                for count in steps {
                    let dynamics = ProjectedGradientDescent<Double>(stepSize: inferenceRate, steps: count, layerStepScales: stepScales)
                    var ruleGenerator = SeededGenerator(seed: seed)
                    let estimate = try estimate(nudge: nudge, dynamics: dynamics, energy: clamped, free: free, target: target,
                                                using: &ruleGenerator)
                    rows.append(Row(rule: rule, nudge: nudge, steps: count, seed: seed,
                                    comparison: GradientComparison(estimate: estimate.gradient(of: energy), reference: reference,
                                                                   names: energy.terms.map(\.name))))
                }
            }
        }
        return rows
    }

    private func estimate(nudge: Double, dynamics: ProjectedGradientDescent<Double>, energy: ClampedEnergy<Double>,
                          free: NetworkState<Double>, target: Matrix<Double>, using generator: inout SeededGenerator) throws -> Contrast<Double> {
        switch rule {
        case .pcNudge:
            return try PCNudge(lambda: nudge, cost: cost.cost(), dynamics: dynamics).estimate(energy: energy, freeState: free, target: target, using: &generator)
        case .pc:
            return try OutputClamping.predictiveCoding(outputPrecision: nudge, dynamics: dynamics)
                .estimate(energy: energy, freeState: free, target: target, using: &generator)
        case .chl:
            return try OutputClamping.weakFeedbackContrastiveHebbian(feedbackGain: nudge, outputLayer: layerSizes.count - 1, dynamics: dynamics)
                .estimate(energy: energy, freeState: free, target: target, using: &generator)
        case .ep, .epSymmetric:
            return try EquilibriumPropagation(beta: nudge, nudging: rule == .ep ? .oneSided : .symmetric, cost: cost.cost(), dynamics: dynamics)
                .estimate(energy: energy, freeState: free, target: target, using: &generator)
        }
    }
}
