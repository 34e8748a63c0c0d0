import LinearAlgebra

/// Everything that defines how a network learns, apart from its data: the seed and the run file's
/// sections `architecture`, `energy`, `dynamics`, `rule` and `training`. It validates the sections
/// against each other and builds the energy, the dynamics, the rule and the trainer.
public struct LearningSpecification: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var architecture: ArchitectureSpecification
    public var energy: EnergySpecification
    public var dynamics: DynamicsSpecification
    public var rule: RuleSpecification
    public var training: TrainingSpecification

    public init(seed: UInt64, architecture: ArchitectureSpecification, energy: EnergySpecification, dynamics: DynamicsSpecification,
                rule: RuleSpecification, training: TrainingSpecification) {
        self.seed = seed
        self.architecture = architecture
        self.energy = energy
        self.dynamics = dynamics
        self.rule = rule
        self.training = training
    }

    /// Throws a ``SpecificationError`` naming the first setting that cannot be, in the order of the
    /// run file's sections.
    public func validate() throws {
        try architecture.validate()
        try require(!(architecture.hasPooling && energy.kind == .pc), "architecture.interactions",
                    "no pooling with the pc energy (a prediction f(conv(x) + b) has none)",
                    architecture.interactions.map(\.description).joined(separator: ", "))
        try dynamics.validate(energy: energy)
        for (minimizer, key) in dynamics.phaseMinimizers {
            try require(!(architecture.hasPooling && minimizer == .exactBlock), key,
                        "gradient-descent with max pooling (the energy is concave, not quadratic, in the layer below a pooled convolution, which has no exact block minimiser)",
                        minimizer.rawValue)
        }
        try rule.validate(energy: energy, dynamics: dynamics, cost: training.cost)
        try training.validate(architecture: architecture)
    }

    /// The network, its weights drawn from `generator`, with the energy properties that are the
    /// rule's nudge (PC's `π_L`, weak-feedback CHL's `γ`).
    public func makeEnergy<Scalar: BLASScalar>(using generator: inout SeededGenerator) -> LayeredEnergy<Scalar> {
        let properties = rule.energyProperties
        return energy.make(architecture: architecture, outputPrecision: properties.outputPrecision, feedbackGain: properties.feedbackGain,
                           using: &generator)
    }

    /// The rule with its second phase's dynamics, each relaxation split into `parallelBlocks` blocks of
    /// examples and reported to `log` if given.
    public func makeRule<Scalar: BLASScalar>(parallelBlocks: Int = 1, log: RelaxationLog? = nil) -> any LearningRule<Scalar> {
        rule.make(cost: training.cost.cost(),
                  dynamics: dynamics.makeSecondPhase(layerStepScales: layerStepScales(), parallelBlocks: parallelBlocks, log: log),
                  layerCount: architecture.layers.count)
    }

    /// The free phase's dynamics.
    public func makeFreePhase<Scalar: BLASScalar>(parallelBlocks: Int = 1) -> any Dynamics<Scalar> {
        dynamics.makeFreePhase(energy: energy, layerStepScales: layerStepScales(), parallelBlocks: parallelBlocks)
    }

    /// The per-layer factors on the step size that the energy needs (see ``EnergySpecification/layerStepScales(layerCount:feedbackGain:)``).
    public func layerStepScales<Scalar: BLASScalar>() -> [Scalar]? {
        energy.layerStepScales(layerCount: architecture.layers.count, feedbackGain: rule.energyProperties.feedbackGain)
    }

    /// A trainer for this specification: the energy (weights drawn from the seed), its dynamics, the
    /// rule, the optimizer and the schedule, with each relaxation split into `parallelBlocks` blocks
    /// of examples on separate threads, and persistent particles (when set) for `trainingCount` examples.
    public func makeTrainer<Scalar: BLASScalar>(trainingCount: Int, parallelBlocks: Int = 1) throws -> Trainer<Scalar> {
        try validate()
        var generator = SeededGenerator(seed: seed)
        let energy: LayeredEnergy<Scalar> = makeEnergy(using: &generator)
        let log = RelaxationLog()
        var trainer = Trainer(
            energy: energy, freeDynamics: makeFreePhase(parallelBlocks: parallelBlocks), rule: makeRule(parallelBlocks: parallelBlocks, log: log),
            cost: training.cost.cost(), optimizer: training.optimizer.optimizer(), learningRates: training.learningRates.map { Scalar($0) },
            schedule: training.schedule, plannedEpochs: training.epochs, batchSize: training.batchSize,
            persistentParticlesFor: dynamics.persistentParticles ? trainingCount : nil, generator: generator)
        trainer.weightDecay = Scalar(training.weightDecay)
        trainer.augmentation = training.augmentation(inputShape: architecture.layers[0])
        trainer.secondPhaseLog = log
        // Each example stops on its own (SettlingSweeps), so the evaluation batch changes only the
        // speed. Dense products run faster on wide batches (the default 1,000 rows); a convolution's
        // are split into small products whatever the batch, while unfolding and transposing a wide
        // batch leave the cache: evaluated in batches of 32 rather than 1,000, conv-mnist's model
        // took about a quarter of the time and the predictive-coding conv preset's two fifths
        // (`eqprop evaluate --batch-size`; the README, "Each example stops once it has settled").
        if architecture.hasConvolution { trainer.evaluationBatchSize = training.batchSize }
        return trainer
    }
}
