/// How the parameters are trained (the run file's `training` section): epochs, batches, the
/// optimizer and its rates, weight decay and the cost.
public struct TrainingSpecification: Codable, Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    /// `α_k` for the terms of interaction `k` (``LayeredEnergy/learningRateGroups``): one per interaction.
    public var learningRates: [Double]
    /// How each batch's gradient estimate updates the parameters; `learningRates` are its `α_k`.
    public var optimizer: OptimizerName
    /// How the learning rates change from epoch to epoch.
    public var schedule: LearningRateSchedule
    /// Decoupled weight decay `λ` (Loshchilov & Hutter 2019): after each step every parameter
    /// shrinks by the factor `1 − α_k λ`, whatever the optimizer (0: none).
    public var weightDecay: Double
    /// The loss `C` the rules descend (and nudge with), and training reports.
    public var cost: CostName

    public init(epochs: Int, batchSize: Int, learningRates: [Double], optimizer: OptimizerName = .sgd, schedule: LearningRateSchedule = .constant,
                weightDecay: Double = 0, cost: CostName = .squaredError) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRates = learningRates
        self.optimizer = optimizer
        self.schedule = schedule
        self.weightDecay = weightDecay
        self.cost = cost
    }

    /// Throws a ``SpecificationError`` naming the first impossible setting for `architecture`.
    public func validate(architecture: ArchitectureSpecification) throws {
        try require(epochs >= 0, "training.epochs", "a non-negative number", epochs)
        try require(batchSize > 0, "training.batch-size", "a positive number", batchSize)
        let count = architecture.interactions.count
        try require(learningRates.count == count, "training.learning-rates",
                    "\(count) rate\(count == 1 ? "" : "s") (one per interaction)", learningRates)
        try require(learningRates.allSatisfy { $0 >= 0 && $0.isFinite }, "training.learning-rates", "non-negative finite rates", learningRates)
        try require(weightDecay >= 0 && weightDecay.isFinite && learningRates.allSatisfy { $0 * weightDecay < 1 }, "training.weight-decay",
                    "a finite λ ≥ 0 with α_k·λ < 1 for every rate (each step multiplies the parameters by 1 − α_k·λ)", weightDecay)
    }
}
