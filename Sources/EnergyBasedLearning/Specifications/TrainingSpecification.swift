/// How the parameters are trained (the run file's `training` section): epochs, batches, the
/// optimizer and its rates, weight decay, the cost and the training images' augmentation.
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
    /// Each training image is moved by up to this many pixels along each axis, at random, each
    /// time it enters a batch (``ImageAugmentation``; 0: never).
    public var randomShift: Int
    /// Each training image is mirrored left to right with probability ½ each time it enters a batch.
    public var horizontalFlip: Bool

    public init(epochs: Int, batchSize: Int, learningRates: [Double], optimizer: OptimizerName = .sgd, schedule: LearningRateSchedule = .constant,
                weightDecay: Double = 0, cost: CostName = .squaredError, randomShift: Int = 0, horizontalFlip: Bool = false) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRates = learningRates
        self.optimizer = optimizer
        self.schedule = schedule
        self.weightDecay = weightDecay
        self.cost = cost
        self.randomShift = randomShift
        self.horizontalFlip = horizontalFlip
    }

    /// Reads a description that may predate the augmentation (none then).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(epochs: try container.decode(Int.self, forKey: .epochs), batchSize: try container.decode(Int.self, forKey: .batchSize),
                  learningRates: try container.decode([Double].self, forKey: .learningRates),
                  optimizer: try container.decode(OptimizerName.self, forKey: .optimizer),
                  schedule: try container.decode(LearningRateSchedule.self, forKey: .schedule),
                  weightDecay: try container.decode(Double.self, forKey: .weightDecay), cost: try container.decode(CostName.self, forKey: .cost),
                  randomShift: try container.decodeIfPresent(Int.self, forKey: .randomShift) ?? 0,
                  horizontalFlip: try container.decodeIfPresent(Bool.self, forKey: .horizontalFlip) ?? false)
    }

    /// The augmentation of images of `inputShape` (`nil`: none). ``validate(architecture:)`` refuses
    /// an augmentation of an input that is not `channels × height × width`.
    public func augmentation(inputShape: LayerShape) -> ImageAugmentation? {
        guard randomShift > 0 || horizontalFlip else { return nil }
        let d = inputShape.dimensions
        precondition(d.count == 3, "augmentation of an input layer of \(inputShape), not an image: validate(architecture:) refuses it")
        return ImageAugmentation(shift: randomShift, horizontalFlip: horizontalFlip, channels: d[0], height: d[1], width: d[2])
    }

    /// Throws a ``SpecificationError`` naming the first impossible setting for `architecture`.
    public func validate(architecture: ArchitectureSpecification) throws {
        try require(epochs > 0, "training.epochs", "a positive number (a run of no epochs would write no model)", epochs)
        try require(batchSize > 0, "training.batch-size", "a positive number", batchSize)
        let count = architecture.interactions.count
        try require(learningRates.count == count, "training.learning-rates",
                    "\(count) rate\(count == 1 ? "" : "s") (one per interaction)", learningRates)
        try require(learningRates.allSatisfy { $0 >= 0 && $0.isFinite }, "training.learning-rates", "non-negative finite rates", learningRates)
        try require(weightDecay >= 0 && weightDecay.isFinite && learningRates.allSatisfy { $0 * weightDecay < 1 }, "training.weight-decay",
                    "a finite λ ≥ 0 with α_k·λ < 1 for every rate (each step multiplies the parameters by 1 − α_k·λ)", weightDecay)
        let input = architecture.layers[0], isImage = input.dimensions.count == 3
        let notImage = "an input layer of images, channels×height×width (e.g. 1x28x28), not \(input)"
        try require(randomShift >= 0, "training.random-shift", "0 or more pixels", randomShift)
        if randomShift > 0 {
            try require(isImage, "training.random-shift", notImage, randomShift)
            try require(randomShift < Swift.min(input.dimensions[1], input.dimensions[2]), "training.random-shift",
                        "a shift smaller than the height and width of the \(input) images", randomShift)
        }
        if horizontalFlip { try require(isImage, "training.horizontal-flip", notImage, horizontalFlip) }
    }
}
