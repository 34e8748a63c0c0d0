import LinearAlgebra

/// Everything that defines a training run on a layered network.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    /// The learning rule. Its nudge is `beta`: `β` for EP and STDP, `λ` for PC-Nudge, the output
    /// precision `π_L` (hidden precisions 1) for PC.
    public enum Rule: String, Codable, Sendable, CaseIterable {
        /// Equilibrium Propagation (one-sided or symmetric nudging).
        case ep
        /// The rate-based STDP rule, applied online during the nudged phase.
        case stdp
        /// Contrastive Hebbian learning: free phase against the output clamped at the target.
        case chl
        /// Predictive coding: the output clamped at the target, the update divided by `π_L`.
        case pc
        /// PC-Nudge: the output's prediction error held at `−λ·∂C/∂ŷ`, the update divided by `λ`.
        case pcNudge = "pc-nudge"
        /// Backprop through the feed-forward network of the predictive-coding energy.
        case bp

        /// Whether the rule needs the predictive-coding energy.
        var needsPredictiveCoding: Bool { [.pc, .pcNudge, .bp].contains(self) }
    }

    /// The energy the network minimises.
    public enum EnergyKind: String, Codable, Sendable, CaseIterable {
        /// The Hopfield energy of Scellier & Bengio (2017), states in `[0, 1]`.
        case hopfield
        /// The predictive-coding energy; its free phase is the feed-forward pass.
        case pc
    }

    /// Units per layer, input first.
    public var layerSizes: [Int]
    public var epochs: Int
    public var batchSize: Int
    /// Steps of the free phase (`n_it_neg` in the paper's code).
    public var freeSteps: Int
    /// Steps of each nudged phase (`n_it_pos`).
    public var nudgedSteps: Int
    /// The step `ε` of the projected gradient dynamics.
    public var stepSize: Double
    /// The nudging strength `β` for the cost `C = ½‖y − d‖²`.
    public var beta: Double
    /// `α_k` for `W_k` and `b_{k+1}`; one per weight matrix.
    public var learningRates: [Double]
    /// Draw the sign of `β` at random for each batch.
    public var randomSign: Bool
    public var nudging: Nudging
    /// Start each example's free phase from its previous fixed point.
    public var persistentParticles: Bool
    public var seed: UInt64
    public var rule: Rule = .ep
    /// With `rule == .stdp`: the form of the rate rule.
    public var stdpForm: STDPForm = .symmetric
    /// The Langevin noise level `σ` of the nudged phase (0: deterministic).
    public var noise: Double = 0
    public var energy: EnergyKind = .hopfield
    /// With the predictive-coding energy: the activations of the hidden and output layers.
    public var hidden: Activation = .relu
    public var output: Activation = .identity
    /// How an image's bytes become the input layer's state.
    public var pixels: PixelScaling = .unit
    /// The output cost the rule nudges with (and training reports).
    public var cost: CostName = .squaredError
    /// How each batch's gradient estimate updates the parameters; `learningRates` are its `α_k`.
    public var optimizer: OptimizerName = .sgd
    /// How the learning rates change from epoch to epoch.
    public var schedule: LearningRateSchedule = .constant
    /// Decoupled weight decay `λ` (Loshchilov & Hutter 2019): after each step every parameter
    /// shrinks by the factor `1 − α_k λ`, whatever the optimizer (0: none).
    public var weightDecay: Double = 0
    /// Cap each layer's relaxation step by the energy's curvature at the current weights (see
    /// ``ProjectedGradientDescent/stabilizesSteps``), so that inference stays stable as weights grow.
    public var stableSteps: Bool = false

    public init(layerSizes: [Int], epochs: Int, batchSize: Int, freeSteps: Int, nudgedSteps: Int,
                stepSize: Double, beta: Double, learningRates: [Double], randomSign: Bool,
                nudging: Nudging, persistentParticles: Bool, seed: UInt64) {
        self.layerSizes = layerSizes
        self.epochs = epochs
        self.batchSize = batchSize
        self.freeSteps = freeSteps
        self.nudgedSteps = nudgedSteps
        self.stepSize = stepSize
        self.beta = beta
        self.learningRates = learningRates
        self.randomSign = randomSign
        self.nudging = nudging
        self.persistentParticles = persistentParticles
        self.seed = seed
    }

    /// Throws a ``ConfigurationError`` naming the first impossible setting.
    public func validate() throws {
        func check(_ condition: Bool, _ setting: String, _ expected: String, _ value: CustomStringConvertible) throws {
            if !condition { throw ConfigurationError(setting: setting, expected: expected, value: "\(value)") }
        }
        try check(layerSizes.count >= 2 && layerSizes.allSatisfy { $0 > 0 }, "layers",
                  "at least two positive layer sizes", layerSizes)
        try check(epochs >= 0, "epochs", "a non-negative number", epochs)
        try check(batchSize > 0, "batch-size", "a positive number", batchSize)
        try check(freeSteps > 0, "free-steps", "a positive number", freeSteps)
        try check(nudgedSteps > 0, "nudged-steps", "a positive number", nudgedSteps)
        try check(stepSize > 0 && stepSize.isFinite, "epsilon", "a positive finite step size", stepSize)
        try check(beta != 0 && beta.isFinite, "beta", "a finite non-zero β (EP divides by it)", beta)
        try check(learningRates.count == layerSizes.count - 1, "learning-rates",
                  "\(layerSizes.count - 1) rates (one per weight matrix)", learningRates)
        try check(learningRates.allSatisfy { $0 >= 0 && $0.isFinite }, "learning-rates",
                  "non-negative finite rates", learningRates)
        try check(noise >= 0 && noise.isFinite, "noise", "a finite noise level σ ≥ 0", noise)
        try check(weightDecay >= 0 && weightDecay.isFinite && learningRates.allSatisfy { $0 * weightDecay < 1 }, "weight-decay",
                  "a finite λ ≥ 0 with α_k·λ < 1 for every rate (each step multiplies the parameters by 1 − α_k·λ)", weightDecay)
        try check(!rule.needsPredictiveCoding || energy == .pc, "energy", "pc for --rule \(rule.rawValue)", energy.rawValue)
        try check(rule != .stdp || energy == .hopfield, "energy", "hopfield for --rule stdp", energy.rawValue)
        try check(rule != .pc || beta > 0, "beta", "a positive output precision π_L for --rule pc", beta)
        try check(cost == .squaredError || ![.pc, .chl].contains(rule), "cost",
                  "squared-error for --rule \(rule.rawValue) (clamping the output at the target descends the squared error)", cost.rawValue)
    }

    /// The network this configuration trains, its parameters drawn from `generator`.
    public func makeEnergy<Scalar: BLASScalar>(using generator: inout SeededGenerator) -> LayeredEnergy<Scalar> {
        switch energy {
        case .hopfield:
            return .hopfield(layerSizes: layerSizes, using: &generator)
        case .pc:
            var precisions = [Scalar](repeating: 1, count: layerSizes.count - 1)
            if rule == .pc { precisions[precisions.count - 1] = Scalar(beta) }
            return .predictiveCoding(layerSizes: layerSizes, hidden: hidden, output: output, precisions: precisions, using: &generator)
        }
    }
}

extension TrainingConfiguration {
    private enum CodingKeys: String, CodingKey {
        case layerSizes, epochs, batchSize, freeSteps, nudgedSteps, stepSize, beta, learningRates
        case randomSign, nudging, persistentParticles, seed, rule, stdpForm, noise, energy, hidden, output, cost, optimizer, schedule
        case stableSteps, weightDecay, pixels
    }

    /// Reads a configuration; `rule`, `stdpForm`, `noise`, `energy`, `hidden`, `output`, `cost`,
    /// `optimizer`, `schedule`, `stableSteps`, `weightDecay` and `pixels` may be absent (files written
    /// before they existed) and default to EP, symmetric, 0, Hopfield, ReLU, identity, the squared
    /// error, SGD, constant rates, fixed steps, no weight decay and pixels in [0, 1].
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            layerSizes: try c.decode([Int].self, forKey: .layerSizes), epochs: try c.decode(Int.self, forKey: .epochs),
            batchSize: try c.decode(Int.self, forKey: .batchSize), freeSteps: try c.decode(Int.self, forKey: .freeSteps),
            nudgedSteps: try c.decode(Int.self, forKey: .nudgedSteps), stepSize: try c.decode(Double.self, forKey: .stepSize),
            beta: try c.decode(Double.self, forKey: .beta), learningRates: try c.decode([Double].self, forKey: .learningRates),
            randomSign: try c.decode(Bool.self, forKey: .randomSign), nudging: try c.decode(Nudging.self, forKey: .nudging),
            persistentParticles: try c.decode(Bool.self, forKey: .persistentParticles), seed: try c.decode(UInt64.self, forKey: .seed))
        rule = try c.decodeIfPresent(Rule.self, forKey: .rule) ?? .ep
        stdpForm = try c.decodeIfPresent(STDPForm.self, forKey: .stdpForm) ?? .symmetric
        noise = try c.decodeIfPresent(Double.self, forKey: .noise) ?? 0
        energy = try c.decodeIfPresent(EnergyKind.self, forKey: .energy) ?? .hopfield
        hidden = try c.decodeIfPresent(Activation.self, forKey: .hidden) ?? .relu
        output = try c.decodeIfPresent(Activation.self, forKey: .output) ?? .identity
        cost = try c.decodeIfPresent(CostName.self, forKey: .cost) ?? .squaredError
        optimizer = try c.decodeIfPresent(OptimizerName.self, forKey: .optimizer) ?? .sgd
        schedule = try c.decodeIfPresent(LearningRateSchedule.self, forKey: .schedule) ?? .constant
        stableSteps = try c.decodeIfPresent(Bool.self, forKey: .stableSteps) ?? false
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? 0
        pixels = try c.decodeIfPresent(PixelScaling.self, forKey: .pixels) ?? .unit
    }
}

/// How a pixel's byte `p ∈ {0, …, 255}` becomes an input unit's state.
public enum PixelScaling: String, Codable, Sendable, CaseIterable {
    /// `p/255 ∈ [0, 1]`, as in Scellier & Bengio (2017).
    case unit
    /// `2p/255 − 1 ∈ [−1, 1]`, centred (torchvision's `Normalize(0.5, 0.5)`, as in the pcx benchmark).
    case symmetric

    /// The input state for byte `p`.
    public func value<Scalar: BLASScalar>(_ p: UInt8) -> Scalar {
        switch self {
        case .unit: Scalar(p) / 255
        case .symmetric: 2 * Scalar(p) / 255 - 1
        }
    }
}

/// How the learning rates change over a run of `n` epochs.
public enum LearningRateSchedule: String, Codable, Sendable, CaseIterable {
    /// The same rates every epoch.
    case constant
    /// Cosine annealing (Loshchilov & Hutter 2017) to zero at the end of the run:
    /// `α(e) = α · ½(1 + cos(π(e − 1)/n))` for epoch `e = 1…n`.
    case cosine

    /// The factor applied to the rates in epoch `epoch` (1-based) of `epochs`.
    public func factor(epoch: Int, of epochs: Int) -> Double {
        switch self {
        case .constant: 1
        case .cosine: 0.5 * (1 + Double.cos(Double.pi * Double(epoch - 1) / Double(Swift.max(epochs, 1))))
        }
    }
}

/// An impossible setting, named by its command-line flag.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public var setting: String
    public var expected: String
    public var value: String

    public var description: String { "--\(setting): expected \(expected), got \(value)" }
}
